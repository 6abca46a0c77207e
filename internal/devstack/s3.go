package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersityGWBinary finds the S3-compatible server the tests run: $SHIPGATE_VERSITYGW, else the
// repository's git-ignored .bin/versitygw, which `go tool task tools:versitygw` builds from
// the module proxy (github.com/versity/versitygw, the Versity S3 Gateway).
func VersityGWBinary() (string, error) {
	return repoTool("SHIPGATE_VERSITYGW", "versitygw", "tools:versitygw")
}

// S3Server is a real S3-compatible server on loopback: the Versity S3 Gateway serving a
// directory (its posix backend), with one bucket and a generated access key.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	cmd       *exec.Cmd
	done      chan error
}

// Spec is the evidence-store location of the server's bucket under prefix
// (SHIPGATE_EVIDENCE_STORE).
func (s *S3Server) Spec(prefix string) string {
	return "s3://" + s.Bucket + "/" + prefix + "?endpoint=" + s.Endpoint
}

// Env is the credentials a client of the server needs, as the AWS SDK reads them.
func (s *S3Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_REGION=us-east-1"}
}

// Client is an S3 client for the server (tests use it to look behind the store).
func (s *S3Server) Client() *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, "")})
}

// Stop ends the server.
func (s *S3Server) Stop() error {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
	return nil
}

// StartS3 starts versitygw on a free loopback port serving dir, and creates bucket.
func StartS3(ctx context.Context, dir, bucket string) (*S3Server, error) {
	bin, err := VersityGWBinary()
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	s := &S3Server{Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Bucket: bucket,
		AccessKey: "shipgate" + randomHex(6), SecretKey: randomHex(20), done: make(chan error, 1)}
	logf, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet", "posix", data)
	// the root credentials by environment, not on a command line other users can read
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait(); logf.Close() }()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("versitygw: %w (log: %s)", err, logf.Name())
	}
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("versitygw: creating bucket %s: %w", bucket, err)
	}
	return s, nil
}

func (s *S3Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil // any answer (403 unsigned) means it serves
		}
		last = err
	}
	return fmt.Errorf("not answering after 30 s: %v", last)
}

// S3TestServer starts a real S3-compatible server for a test, with the bucket "evidence",
// and stops it when the test ends.
func S3TestServer(tb testing.TB) *S3Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartS3(ctx, tb.TempDir(), "evidence")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Stop() })
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

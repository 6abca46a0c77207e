package evstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/shipgate/shipgate/internal/release"
)

// S3 is a store in an S3-compatible bucket (production): blob sha256 X is the object
// Prefix + "sha256/" + X[:2] + "/" + X. Credentials come from the AWS SDK's usual chain
// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, a role), never from an input.
type S3 struct {
	Client *s3.Client
	Bucket string
	Prefix string
	// Endpoint is shown in String: empty for AWS itself.
	Endpoint string
}

// S3Config locates a bucket.
type S3Config struct {
	Bucket, Prefix string
	// Endpoint is an S3-compatible server's URL (path-style addressing); empty: AWS.
	Endpoint string
	Region   string // default us-east-1
	// HTTP is the client to use; nil: the SDK's.
	HTTP *http.Client
}

// NewS3 builds an S3 store; credentials come from the environment (AWS SDK default chain).
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	if c.Bucket == "" {
		return nil, errors.New("evidence store: an S3 store needs a bucket")
	}
	region := c.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(region)}
	if c.HTTP != nil {
		opts = append(opts, config.WithHTTPClient(c.HTTP))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("evidence store s3://%s: %w", c.Bucket, err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			o.UsePathStyle = true
		}
	})
	prefix := strings.Trim(c.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{Client: client, Bucket: c.Bucket, Prefix: prefix, Endpoint: c.Endpoint}, nil
}

func (s *S3) String() string {
	out := "s3://" + s.Bucket + "/" + s.Prefix
	if s.Endpoint != "" {
		out += " at " + s.Endpoint
	}
	return out
}

func (s *S3) key(b release.Blob) string { return s.Prefix + key(b) }

// Put uploads data unless an object of the right size is there already; the server checks
// the upload against its SHA-256 (x-amz-checksum-sha256).
func (s *S3) Put(ctx context.Context, b release.Blob, data []byte) error {
	if err := checkPut(b, data); err != nil {
		return err
	}
	k := s.key(b)
	head, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &k})
	if err == nil && aws.ToInt64(head.ContentLength) == b.Size {
		return nil
	}
	if err != nil && !notFound(err) {
		return fmt.Errorf("evidence store %s: %s: %w", s, b.Name, err)
	}
	sum, _ := hex.DecodeString(b.SHA256)
	_, err = s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.Bucket, Key: &k, Body: bytes.NewReader(data), ContentLength: aws.Int64(b.Size),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum)),
	})
	if err != nil {
		return fmt.Errorf("evidence store %s: uploading %s: %w", s, b.Name, err)
	}
	return nil
}

// Get downloads a blob and checks it.
func (s *S3) Get(ctx context.Context, b release.Blob) ([]byte, error) {
	if err := validate(b); err != nil {
		return nil, err
	}
	k := s.key(b)
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &k})
	if err != nil {
		if notFound(err) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("evidence store %s: %w", s, err)
	}
	defer out.Body.Close()
	if n := aws.ToInt64(out.ContentLength); n != b.Size && n > 0 {
		return nil, &CorruptError{fmt.Sprintf("%d bytes stored, %d referenced", n, b.Size)}
	}
	return readVerified(out.Body, b)
}

func notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey")
}

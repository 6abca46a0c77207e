package evstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// backend is one store under test and a way to change a stored blob behind its back.
type backend struct {
	store     evstore.Store
	overwrite func(t *testing.T, b release.Blob, data []byte)
}

func dirBackend(t *testing.T) backend {
	d := evstore.Dir{Root: t.TempDir()}
	return backend{store: d, overwrite: func(t *testing.T, b release.Blob, data []byte) {
		p := filepath.Join(d.Root, "sha256", b.SHA256[:2], b.SHA256)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}}
}

// s3Backend is the S3 store against a real S3-compatible server (Versity S3 Gateway) on
// loopback.
func s3Backend(t *testing.T) backend {
	srv := devstack.S3TestServer(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	st, err := evstore.Open(context.Background(), srv.Spec("releases"))
	if err != nil {
		t.Fatal(err)
	}
	return backend{store: st, overwrite: func(t *testing.T, b release.Blob, data []byte) {
		key := "releases/sha256/" + b.SHA256[:2] + "/" + b.SHA256
		if _, err := srv.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: &srv.Bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}}
}

func TestDirStore(t *testing.T) { testStore(t, dirBackend(t)) }

func TestS3Store(t *testing.T) { testStore(t, s3Backend(t)) }

func testStore(t *testing.T, be backend) {
	ctx := context.Background()
	st := be.store
	data := []byte("<testsuite tests=\"1\"><testcase name=\"a\"/></testsuite>\n")
	b := evstore.NewBlob("reports/junit.xml", data)

	if _, err := st.Get(ctx, b); !errors.Is(err, evstore.ErrNotFound) || !evstore.Permanent(err) {
		t.Fatalf("get before put: %v, want ErrNotFound", err)
	}
	if err := st.Put(ctx, b, data); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, b, data); err != nil { // again: nothing to do
		t.Fatalf("second put: %v", err)
	}
	got, err := st.Get(ctx, b)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get: %q %v", got, err)
	}
	// the name is a label: the same bytes under another name are the same blob
	if got, err := st.Get(ctx, evstore.NewBlob("other-name.xml", data)); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get by content: %q %v", got, err)
	}
	// empty files are blobs too
	empty := evstore.NewBlob("empty.txt", nil)
	if err := st.Put(ctx, empty, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(ctx, empty); err != nil || len(got) != 0 {
		t.Fatalf("empty: %q %v", got, err)
	}

	// a reference that does not match the data is refused at put
	wrong := b
	wrong.Size++
	if err := st.Put(ctx, wrong, data); err == nil {
		t.Fatal("put of data under another blob's reference succeeded")
	}
	// a reference with the right digest and another size is not read as the blob
	if _, err := st.Get(ctx, wrong); !isCorrupt(err) {
		t.Fatalf("size mismatch: %v, want a CorruptError", err)
	}
	// references that are paths, or not digests, are refused before the store is asked
	for _, d := range []string{"../../../../etc/passwd", "/etc/passwd", strings.Repeat("G", 64), strings.ToUpper(b.SHA256), b.SHA256[:63]} {
		bad := release.Blob{Name: "x", SHA256: d, Size: 3}
		if _, err := st.Get(ctx, bad); err == nil || !evstore.Permanent(err) || !strings.Contains(err.Error(), "invalid blob reference") {
			t.Errorf("digest %q: %v", d, err)
		}
	}

	// bytes changed in the store behind the reference: same size, then another size
	changed := append([]byte(nil), data...)
	changed[3] ^= 0x20
	be.overwrite(t, b, changed)
	if _, err := st.Get(ctx, b); !isCorrupt(err) || strings.Contains(err.Error(), string(changed[:10])) {
		t.Fatalf("changed bytes: %v, want a CorruptError without the bytes", err)
	}
	be.overwrite(t, b, append(data, "more"...))
	if _, err := st.Get(ctx, b); !isCorrupt(err) {
		t.Fatalf("longer object: %v, want a CorruptError", err)
	}
	be.overwrite(t, b, data[:5])
	if _, err := st.Get(ctx, b); !isCorrupt(err) {
		t.Fatalf("shorter object: %v, want a CorruptError", err)
	}
}

func isCorrupt(err error) bool {
	var c *evstore.CorruptError
	return errors.As(err, &c) && evstore.Permanent(err)
}

// The S3 store needs credentials from the environment; wrong ones are an error reaching the
// store (retried by the worker), never a verdict.
func TestS3StoreWrongCredentials(t *testing.T) {
	srv := devstack.S3TestServer(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	st, err := evstore.Open(context.Background(), srv.Spec(""))
	if err != nil {
		t.Fatal(err)
	}
	b := evstore.NewBlob("a", []byte("a"))
	if err := st.Put(context.Background(), b, []byte("a")); err == nil {
		t.Fatal("put with a wrong secret succeeded")
	}
	_, err = st.Get(context.Background(), b)
	if err == nil || evstore.Permanent(err) {
		t.Fatalf("get with a wrong secret: %v, want a transient error", err)
	}
	if strings.Contains(err.Error(), "not-the-secret") || strings.Contains(st.String(), srv.AccessKey) {
		t.Fatalf("credentials in an error or the store's name: %v / %s", err, st)
	}
}

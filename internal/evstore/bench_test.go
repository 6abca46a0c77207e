package evstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipgate/shipgate/internal/devstack"
	"github.com/shipgate/shipgate/internal/evstore"
	"github.com/shipgate/shipgate/internal/release"
)

// benchStores are a local directory and a real S3-compatible server on loopback; each
// iteration gets an empty store (a new directory or prefix), so every upload is a real one.
func benchStores(b *testing.B) map[string]func(i int) evstore.Store {
	srv := devstack.S3TestServer(b)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		b.Setenv(k, v)
	}
	root := b.TempDir()
	return map[string]func(int) evstore.Store{
		"dir": func(i int) evstore.Store { return evstore.Dir{Root: filepath.Join(root, fmt.Sprint(i))} },
		"s3": func(i int) evstore.Store {
			st, err := evstore.Open(context.Background(), srv.Spec(fmt.Sprintf("%s-%d", b.Name(), i)))
			if err != nil {
				b.Fatal(err)
			}
			return st
		},
	}
}

// BenchmarkUploadVerifyDemoEvidence: the starter uploads the demo release's evidence and
// artifact, and the worker reads every blob back and verifies it.
func BenchmarkUploadVerifyDemoEvidence(b *testing.B) {
	manifest, _ := filepath.Abs("../../deployments/examples/demo/release.yaml")
	for name, open := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			var bytes int64
			for i := range b.N {
				st := open(i)
				m, err := release.LoadRelease(manifest)
				if err != nil {
					b.Fatal(err)
				}
				if err := evstore.Upload(context.Background(), st, manifest, m, nil); err != nil {
					b.Fatal(err)
				}
				blobs := []release.Blob{*m.Contracts[0].ArtifactBlob}
				for _, bs := range m.Blobs {
					blobs = append(blobs, bs...)
				}
				bytes = 0
				for _, bl := range blobs {
					if _, err := st.Get(context.Background(), bl); err != nil {
						b.Fatal(err)
					}
					bytes += bl.Size
				}
			}
			b.ReportMetric(float64(bytes), "bytes/release")
		})
	}
}

// BenchmarkUploadVerify50MiB: one report at the size limit, uploaded and read back verified.
func BenchmarkUploadVerify50MiB(b *testing.B) {
	data := make([]byte, release.MaxBlobBytes)
	_, _ = rand.Read(data)
	blob := evstore.NewBlob("big.json", data)
	for name, open := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := range b.N {
				st := open(i)
				if err := st.Put(context.Background(), blob, data); err != nil {
					b.Fatal(err)
				}
				if _, err := st.Get(context.Background(), blob); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWorkerRead50MiB is what the worker spends reading a 50 MiB report: allocations
// per read (B/op) are its memory for the blob.
func BenchmarkWorkerRead50MiB(b *testing.B) {
	data := make([]byte, release.MaxBlobBytes)
	_, _ = rand.Read(data)
	blob := evstore.NewBlob("big.json", data)
	for name, open := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			st := open(0)
			if err := st.Put(context.Background(), blob, data); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := st.Get(context.Background(), blob); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

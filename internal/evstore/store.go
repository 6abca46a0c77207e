// Package evstore is the evidence store: the files a release is judged on (evidence reports,
// contract artifacts), kept by the SHA-256 of their content. The starter uploads what a
// manifest names and hands the workflow only release.Blob references; the worker reads a
// blob by reference and checks its size and digest, so it never opens a path or fetches a URL
// a manifest names, and judges exactly the bytes the release manager submitted.
//
// Two stores: Dir, a local directory (the embedded stack's), and S3, any S3-compatible object
// storage (production). Open picks one from SHIPGATE_EVIDENCE_STORE.
package evstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/shipgate/shipgate/internal/release"
)

// Store keeps blobs by content.
type Store interface {
	// Put stores data as blob b (b's digest and size are data's: see NewBlob). Storing a blob
	// that is there already does nothing.
	Put(ctx context.Context, b release.Blob, data []byte) error
	// Get returns blob b's bytes after checking their size and SHA-256 against b. A blob that
	// is not there is ErrNotFound; one whose bytes differ is a *CorruptError.
	Get(ctx context.Context, b release.Blob) ([]byte, error)
	// String says where the store is, for logs and errors (never with credentials).
	String() string
}

// ErrNotFound: the store has no blob with that digest.
var ErrNotFound = errors.New("not in the evidence store")

// CorruptError: the store holds other bytes than the blob's digest and size say.
type CorruptError struct{ Reason string }

func (e *CorruptError) Error() string { return "stored blob does not match its reference: " + e.Reason }

// Permanent reports whether a Get error is about the blob itself (missing, corrupt, an invalid
// reference), which no retry fixes, rather than about reaching the store.
func Permanent(err error) bool {
	var c *CorruptError
	var inv *invalidError
	return errors.Is(err, ErrNotFound) || errors.As(err, &c) || errors.As(err, &inv)
}

type invalidError struct{ err error }

func (e *invalidError) Error() string { return "invalid blob reference: " + e.err.Error() }

// NewBlob is the reference to data under the label name.
func NewBlob(name string, data []byte) release.Blob {
	sum := sha256.Sum256(data)
	return release.Blob{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
}

// key is where a blob lives in a store: by digest only, never by name.
func key(b release.Blob) string { return "sha256/" + b.SHA256[:2] + "/" + b.SHA256 }

func validate(b release.Blob) error {
	if err := b.Validate(); err != nil {
		return &invalidError{err}
	}
	return nil
}

// readVerified reads exactly b.Size bytes from r into one buffer, refuses more, and checks the
// digest: a 50 MiB blob costs the worker 50 MiB, not a growing copy.
func readVerified(r io.Reader, b release.Blob) ([]byte, error) {
	data := make([]byte, b.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, &CorruptError{fmt.Sprintf("shorter than its %d bytes", b.Size)}
		}
		return nil, err
	}
	var extra [1]byte
	if n, _ := io.ReadFull(r, extra[:]); n > 0 {
		return nil, &CorruptError{fmt.Sprintf("longer than its %d bytes", b.Size)}
	}
	if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != b.SHA256 {
		return nil, &CorruptError{"sha256 differs"}
	}
	return data, nil
}

func checkPut(b release.Blob, data []byte) error {
	if err := validate(b); err != nil {
		return err
	}
	if want := NewBlob(b.Name, data); want.SHA256 != b.SHA256 || want.Size != b.Size {
		return fmt.Errorf("put %s: the data is not the blob's (sha256 or size differs)", b.Name)
	}
	return nil
}

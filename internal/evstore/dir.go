package evstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/shipgate/shipgate/internal/release"
)

// Dir is a store in a local directory (the embedded stack's): blob sha256 X is the file
// sha256/X[:2]/X under Root, written once (to a temporary file, then renamed).
type Dir struct{ Root string }

func (d Dir) String() string { return "dir:" + d.Root }

func (d Dir) path(b release.Blob) string { return filepath.Join(d.Root, filepath.FromSlash(key(b))) }

// Put stores data unless a file of the right size is there already.
func (d Dir) Put(_ context.Context, b release.Blob, data []byte) error {
	if err := checkPut(b, data); err != nil {
		return err
	}
	p := d.path(b)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() == b.Size {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("evidence store %s: %w", d, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("evidence store %s: %w", d, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence store %s: %w", d, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("evidence store %s: %w", d, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("evidence store %s: %w", d, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("evidence store %s: %w", d, err)
	}
	return nil
}

// Get reads a blob's file and checks it. The path is built from the validated digest alone.
func (d Dir) Get(_ context.Context, b release.Blob) ([]byte, error) {
	if err := validate(b); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(b))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("evidence store %s: %w", d, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("evidence store %s: %w", d, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, &CorruptError{"not a regular file"}
	}
	if fi.Size() != b.Size {
		return nil, &CorruptError{fmt.Sprintf("%d bytes stored, %d referenced", fi.Size(), b.Size)}
	}
	return readVerified(f, b)
}

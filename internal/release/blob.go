package release

import (
	"fmt"
	"regexp"
	"unicode"
	"unicode/utf8"
)

// Blob is a file in the evidence store, by content: its SHA-256 and size, and the name the
// release manager gave it in the manifest (a label for messages: nothing opens it). The
// starter uploads every evidence file and contract artifact a manifest names and hands the
// workflow only blobs; the worker reads a blob from its store by digest and checks both.
type Blob struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// MaxBlobBytes is the largest blob the store takes: no report a CI produces is larger, and
// the worker holds a blob in memory while it parses it.
const MaxBlobBytes = 50 << 20

// maxBlobName bounds a blob's label so a crafted input cannot fill status and notices.
const maxBlobName = 200

var sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// String is the blob as the audit log shows it: name@sha256:digest.
func (b Blob) String() string { return b.Name + "@sha256:" + b.SHA256 }

// Validate reports what is wrong with a blob reference, if anything.
func (b Blob) Validate() error {
	switch {
	case !sha256RE.MatchString(b.SHA256):
		return fmt.Errorf("sha256 must be 64 lower-case hex digits")
	case b.Size < 0 || b.Size > MaxBlobBytes:
		return fmt.Errorf("size %d is outside 0..%d bytes", b.Size, MaxBlobBytes)
	case b.Name == "" || len(b.Name) > maxBlobName || !utf8.ValidString(b.Name):
		return fmt.Errorf("name must be 1 to %d bytes of UTF-8", maxBlobName)
	}
	for _, r := range b.Name {
		if unicode.IsControl(r) {
			return fmt.Errorf("name has a control character")
		}
	}
	return nil
}

package devstack

import (
	"errors"
	"os"
	"path/filepath"
)

// ClefBinary finds clef, go-ethereum's external signer: $SHIPGATE_CLEF, else the repository's
// git-ignored .bin/clef, which `go tool task tools:clef` builds from tools/clef (go-ethereum
// v1.17.3, the last release with cmd/clef). Like geth, one on PATH is not used: its external
// API version would be whatever happens to be installed.
func ClefBinary() (string, error) {
	if p := os.Getenv("SHIPGATE_CLEF"); p != "" {
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".bin", "clef")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("clef not found: run `go tool task tools:clef` (builds go-ethereum's cmd/clef from tools/clef into .bin/clef) or set SHIPGATE_CLEF")
}

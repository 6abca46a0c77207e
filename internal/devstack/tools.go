package devstack

import (
	"fmt"
	"os"
	"path/filepath"
)

// repoTool finds a binary the tests and the stack run: $envVar when set, else the repository's
// git-ignored .bin/NAME, which the tools task builds at the version the repository pins. A
// binary on PATH is not used: its version would be whatever happens to be installed. task is
// the tools task that builds it, for the error.
func repoTool(envVar, name, task string) (string, error) {
	if p := os.Getenv(envVar); p != "" {
		return p, nil
	}
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".bin", name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found: run `go tool task %s` (builds it into .bin/%s) or set %s", name, task, name, envVar)
}

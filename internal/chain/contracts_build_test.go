package chain

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestDemoContractsReproducible rebuilds the demo contracts from a clean `npm ci` (pinned
// solc-js and OpenZeppelin versions from package-lock.json) in a temporary directory and
// checks the output equals the committed artifacts byte for byte. It needs node and npm.
func TestDemoContractsReproducible(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Node.js 18+ with npm (Debian: apt-get install -y nodejs npm) to rebuild the demo contracts", tool)
		}
	}
	src := filepath.Join("..", "..", "deployments", "examples", "demo", "contracts")
	work := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "build.js"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(work, f))
	}
	sols, err := filepath.Glob(filepath.Join(src, "src", "*.sol"))
	if err != nil || len(sols) == 0 {
		t.Fatalf("no sources in %s/src: %v", src, err)
	}
	for _, f := range sols {
		copyFile(t, f, filepath.Join(work, "src", filepath.Base(f)))
	}
	run(t, work, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	run(t, work, "node", "build.js", filepath.Join(work, "artifacts"))
	for _, f := range []string{"standard-input.json", "standard-output.json"} {
		want, err := os.ReadFile(filepath.Join(src, "artifacts", f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(work, "artifacts", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("artifacts/%s differs from a clean rebuild: run `npm ci && node build.js` in %s and commit the result", f, src)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v in %s: %v\n%s", name, args, dir, err, out)
	}
}

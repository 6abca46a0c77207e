package safe

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGovernanceArtifactsReproducible re-extracts the governance artifacts from a clean
// `npm ci` of the pinned packages (package-lock.json) and checks the committed files equal the
// result byte for byte: the Safe and timelock shipgate deploys are the upstream builds. It
// needs node and npm (and the npm registry, as the demo contracts' test does).
func TestGovernanceArtifactsReproducible(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Node.js 18+ with npm (Debian: apt-get install -y nodejs npm)", tool)
		}
	}
	work := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "extract.js"} {
		data, err := os.ReadFile(filepath.Join("contracts", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	run("node", "extract.js", filepath.Join(work, "artifacts"))
	for _, n := range []string{NameSafe, NameProxyFactory, NameMultiSend, NameTimelock, NameTransparentProxy, NameProxyAdmin} {
		want, err := os.ReadFile(filepath.Join("contracts", "artifacts", n+".json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(work, "artifacts", n+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("artifacts/%s.json differs from a clean extraction: run `npm ci && node extract.js` in internal/chain/safe/contracts and commit the result", n)
		}
	}
	for _, n := range []string{NameSafe, NameProxyFactory, NameMultiSend, NameTimelock, NameTransparentProxy, NameProxyAdmin} {
		if a, err := Artifact(n); err != nil || len(a.Bytecode) == 0 {
			t.Errorf("%s: %v (no bytecode)", n, err)
		}
	}
}

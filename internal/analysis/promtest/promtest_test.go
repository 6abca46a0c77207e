package promtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRulesPassPromtool checks the generated SLO rules with the real promtool.
func TestRulesPassPromtool(t *testing.T) {
	bin, err := Binary("promtool")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		rules string
		ok    bool
	}{
		{"one service", Rules("demo"), true},
		{"two services", Rules("demo", "bad"), true},
		{"broken expr", "groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: sum(\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rules.yml")
			if err := os.WriteFile(path, []byte(tc.rules), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
			if (err == nil) != tc.ok {
				t.Fatalf("promtool check rules: err=%v, want ok=%v\n%s", err, tc.ok, out)
			}
		})
	}
}

func TestBinaryMissing(t *testing.T) {
	_, err := Binary("prometheus-no-such-tool")
	if err == nil || !strings.Contains(err.Error(), InstallHint) {
		t.Fatalf("err = %v, want the install hint", err)
	}
}

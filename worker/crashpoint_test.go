package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Issue 17: the worker that operators build (go build ./worker) holds no way to kill itself:
// the crash points of the crash tests (package crashpoint, SHIPGATE_TEST_CRASH_AT) are
// compiled only with -tags crashpoints. The tagged build is the control: it must hold them,
// or this test would pass on a binary it cannot tell apart.
func TestDefaultBuildHasNoCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the worker twice")
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		tags []string
		want bool
	}{{"default", nil, false}, {"crashpoints", []string{"-tags", "crashpoints"}, true}} {
		bin := filepath.Join(dir, c.name)
		args := append(append([]string{"build", "-o", bin}, c.tags...), ".")
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"SHIPGATE_TEST_CRASH_AT", "test crash point"} {
			if got := bytes.Contains(b, []byte(s)); got != c.want {
				t.Errorf("%s build: contains %q = %v, want %v", c.name, s, got, c.want)
			}
		}
	}
}

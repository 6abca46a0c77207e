package crashpoint

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// In a default build, naming a crash point does nothing: the process survives Reach. Under
// -tags crashpoints (go test -tags crashpoints ./internal/crashpoint/) a child process that
// reaches its named point dies by SIGKILL, saying where, and one that reaches another lives.
func TestReach(t *testing.T) {
	if os.Getenv("CRASHPOINT_CHILD") != "" {
		Reach(nil, "sign", "sign/deploy")
		return
	}
	if !Enabled {
		t.Setenv(Env, "sign")
		Reach(nil, "sign")
		return // still here: no crash point in this build
	}
	for _, c := range []struct {
		point  string
		killed bool
	}{{"sign/deploy", true}, {"sign", true}, {"broadcast", false}} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestReach$")
		cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", Env+"="+c.point)
		out, err := cmd.CombinedOutput()
		ee, _ := err.(*exec.ExitError)
		killed := ee != nil && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
		if killed != c.killed || killed && !strings.Contains(string(out), "test crash point "+c.point+" reached") {
			t.Errorf("point %s: killed %v (%v), want %v\n%s", c.point, killed, err, c.killed, out)
		}
	}
}

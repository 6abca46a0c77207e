package devstack

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stack is the embedded stack's state directory (.data/): logs, pid files, databases.
type Stack struct{ Dir string }

func (s Stack) pidFile(name string) string { return filepath.Join(s.Dir, "pids", name+".pid") }

// LogFile is where a process of the stack writes its output.
func (s Stack) LogFile(name string) string { return filepath.Join(s.Dir, "logs", name+".log") }

// Running reports the pid of a stack process that is alive.
func (s Stack) Running(name string) (int, bool) {
	b, err := os.ReadFile(s.pidFile(name))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

// Spawn starts a detached process that outlives this one, logging to the stack's log dir.
func (s Stack) Spawn(name, bin string, args, env []string) (int, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return s.SpawnCmd(name, cmd)
}

// SpawnCmd is Spawn for a command made elsewhere (one that runs as another user, say): it
// starts cmd detached, logging to the stack's log dir, unless name runs already.
func (s Stack) SpawnCmd(name string, cmd *exec.Cmd) (int, error) {
	if pid, ok := s.Running(name); ok {
		return pid, nil
	}
	for _, d := range []string{"pids", "logs"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return 0, err
		}
	}
	logf, err := os.OpenFile(s.LogFile(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	detach(cmd)
	bin := cmd.Path
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return pid, os.WriteFile(s.pidFile(name), []byte(strconv.Itoa(pid)), 0o644)
}

// Stop ends one stack process: SIGTERM to its process group, SIGKILL after the grace period.
func (s Stack) Stop(name string, grace time.Duration) error {
	pid, ok := s.Running(name)
	defer os.Remove(s.pidFile(name))
	if !ok {
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping %s (pid %d): %w", name, pid, err)
	}
	return nil
}

// Names lists the processes with pid files.
func (s Stack) Names() []string {
	entries, _ := os.ReadDir(filepath.Join(s.Dir, "pids"))
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".pid"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

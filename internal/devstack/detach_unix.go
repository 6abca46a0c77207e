//go:build unix

package devstack

import (
	"os/exec"
	"syscall"
)

// detach puts the child in its own process group, so a Ctrl-C in the shell that ran
// `task up` does not take the stack down with it.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

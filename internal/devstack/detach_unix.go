//go:build unix

package devstack

import (
	"os/exec"
	"syscall"
)

// detach puts the child in its own process group, so a Ctrl-C in the shell that ran
// `task up` does not take the stack down with it. It keeps what cmd's SysProcAttr says
// already (the user PostgreSQL runs as).
func detach(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

//go:build unix

package mysqltest

import (
	"os/exec"
	"syscall"
)

// ownGroup has cmd start in a process group of its own (killGroup).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup sends SIGKILL to the group ownGroup made: cmd and its children.
func killGroup(cmd *exec.Cmd) {
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // it may have exited already
}

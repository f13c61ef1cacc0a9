//go:build !unix

package tests

import (
	"errors"
	"os/exec"
	"syscall"
)

// ownGroup does nothing without process groups (the end-to-end tests
// are run on unix systems: they stop the server with its signals).
func ownGroup(*exec.Cmd) {}

// killGroup kills cmd alone.
func killGroup(cmd *exec.Cmd) {
	cmd.Process.Kill() //nolint:errcheck // it may have exited
}

// asNobody does nothing: there is no nobody to run as.
func asNobody(*exec.Cmd) {}

// mkfifo fails: there are no FIFOs in the file system.
func mkfifo(string) error { return errors.New("no FIFOs on this system") }

// setReceiveBuffer sets the receive buffer of the socket fd to n bytes.
func setReceiveBuffer(fd uintptr, n int) error {
	return syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

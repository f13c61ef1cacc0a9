//go:build !unix

package mysqltest

import "os/exec"

// ownGroup does nothing where there are no process groups (Windows, where
// the tests that start a mariadbd of their own are not run).
func ownGroup(*exec.Cmd) {}

// killGroup kills cmd alone.
func killGroup(cmd *exec.Cmd) {
	cmd.Process.Kill() //nolint:errcheck // it may have exited already
}

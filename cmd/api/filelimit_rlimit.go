//go:build linux || darwin

package main

import "syscall"

// openFileLimit is the process's limit on open files (the soft one, which
// the Go runtime raises to the hard one at start), if it has one.
func openFileLimit() (uint64, bool) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur == ^uint64(0) { // RLIM_INFINITY
		return 0, false
	}
	return l.Cur, true
}

//go:build !linux && !darwin

package main

// openFileLimit reports no limit on open files where there is none to read.
func openFileLimit() (uint64, bool) { return 0, false }

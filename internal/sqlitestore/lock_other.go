//go:build !unix

package sqlitestore

import (
	"os"
	"sync/atomic"
)

// lockDir and lockFile do not lock where flock is missing; one process per
// data directory is then the operator's to ensure.
func lockDir(string) (*os.File, string, error) { return nil, "", nil }

func lockFile(string) (*os.File, error) { return nil, nil }

func holdNotServed(string, string) ([]*os.File, error) { return nil, nil }

// fileStamp is "": without the lock file, no clean stop is known, and
// every start checks the database file.
func fileStamp(*os.File) string { return "" }

// links is 1: where flock is missing, so is the link count.
func links(os.FileInfo) uint64 { return 1 }

// mountPoint is false: where the device is not known, no mount is told.
func mountPoint(string) bool { return false }

// writableDir is true: the temporary directory is named as found.
func writableDir(string) bool { return true }

// removeUnheldLock does nothing: where flock is missing, no lock file is made.
func removeUnheldLock(string) {}

// betweenLockTries is set by tests only (export_test.go); where flock is
// missing no lock is tried, and it is never run.
var betweenLockTries atomic.Pointer[func()]

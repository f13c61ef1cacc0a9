//go:build !unix

package sqlitestore

import "os"

// lockDir does not lock where flock is missing; one process per data
// directory is then the operator's to ensure.
func lockDir(string, string) (dirLock, db *os.File, err error) { return nil, nil, nil }

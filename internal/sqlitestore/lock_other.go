//go:build !unix

package sqlitestore

import "os"

// lockDir and lockFile do not lock where flock is missing; one process per
// data directory is then the operator's to ensure.
func lockDir(string) (*os.File, error) { return nil, nil }

func lockFile(string) (*os.File, error) { return nil, nil }

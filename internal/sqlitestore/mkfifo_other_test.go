//go:build !unix

package sqlitestore_test

import "errors"

// mkfifo fails: there are no FIFOs in the file system.
func mkfifo(string) error { return errors.New("no FIFOs on this system") }

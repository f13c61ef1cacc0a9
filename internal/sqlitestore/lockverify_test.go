//go:build unix

package sqlitestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStartBesideAReadOnlyVerifySaysVerifyHoldsTheLock: a read-only `api
// verify` (OpenReadOnly) holds shared locks on the lock file and the
// database file, and writes no pid; a server started meanwhile was refused,
// after waiting half a second for a pid, as "in use by another Tributary
// process (its pid not yet written)", as though a server were starting.
// It must say that a process that reads the store without writing it,
// such as api verify, holds it, and nothing of a pid.
func TestAStartBesideAReadOnlyVerifySaysVerifyHoldsTheLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := teststore.OpenSQLite(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := sqlitestore.OpenReadOnly(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("open a stopped store read-only, as api verify does: %v", err)
	}
	t.Cleanup(func() { ro.Close() })

	again, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		again.Close()
		t.Fatalf("Open while api verify reads the store: expected ErrInUse, got a store")
	}
	if !errors.Is(err, sqlitestore.ErrInUse) || !strings.Contains(err.Error(), "api verify") || strings.Contains(err.Error(), "pid") {
		t.Errorf("Open while api verify reads the store: got %v; want ErrInUse naming api verify, and no pid", err)
	}

	// Through a symbolic link in another directory, the database file's
	// own lock refuses it.
	other := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, sqlitestore.FileName), filepath.Join(other, sqlitestore.FileName)); err != nil {
		t.Fatal(err)
	}
	again, err = sqlitestore.Open(t.Context(), other, sqlitestore.Options{})
	if err == nil {
		again.Close()
		t.Fatalf("Open through a link while api verify reads the store: expected ErrInUse, got a store")
	}
	if !errors.Is(err, sqlitestore.ErrInUse) || !strings.Contains(err.Error(), "api verify") {
		t.Errorf("Open through a link while api verify reads the store: got %v; want ErrInUse naming api verify", err)
	}
}

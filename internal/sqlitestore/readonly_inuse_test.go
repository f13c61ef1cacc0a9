package sqlitestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestOpenReadOnlyRefusesADirectoryAServerHolds: OpenReadOnly takes no
// lock and reads the file as immutable, which a file being written is not.
// `api verify` now takes it for a copy its user may not write as well as
// for a read-only mount, where a server may run: a directory whose lock a
// store holds is refused with ErrInUse, not read.
func TestOpenReadOnlyRefusesADirectoryAServerHolds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	expectReadOnlyInUse(t, dir, "a directory a store holds")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := sqlitestore.OpenReadOnly(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("OpenReadOnly once the store closed: %v; want it opened", err)
	}
	ro.Close()
}

// expectReadOnlyInUse fails the test unless OpenReadOnly of dir, what, is
// refused with ErrInUse.
func expectReadOnlyInUse(t *testing.T, dir, what string) {
	t.Helper()
	ro, err := sqlitestore.OpenReadOnly(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		ro.Close()
	}
	if !errors.Is(err, sqlitestore.ErrInUse) {
		t.Errorf("OpenReadOnly of %s: %v; want ErrInUse", what, err)
	}
}

// TestOpenReadOnlySeesAServerWhoseLockFileIsGone: OpenReadOnly asked only
// the data directory's lock file whether a server runs, and took a lock
// file it could not open (removed while the server ran, or not readable by
// its user) for "no server": a false no, with the file being written. The
// server holds a lock on the database file itself too, which OpenReadOnly
// must read anyway: it is refused with ErrInUse.
func TestOpenReadOnlySeesAServerWhoseLockFileIsGone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	if err := os.Remove(filepath.Join(dir, "tributary.lock")); err != nil {
		t.Fatal(err)
	}
	expectReadOnlyInUse(t, dir, "a database file a store holds, its lock file removed")
}

// TestAServerDoesNotStartOnAFileOpenReadOnlyReads: OpenReadOnly's look for
// a server was a probe, let go at once: a server started while `api
// verify` read the file as immutable wrote it under the read, which could
// report damage that is not there. Its locks are held until it is closed:
// a store opened meanwhile is refused with ErrInUse, and opens once it is
// closed.
func TestAServerDoesNotStartOnAFileOpenReadOnlyReads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := sqlitestore.OpenReadOnly(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("OpenReadOnly of a stopped store: %v", err)
	}
	s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, sqlitestore.ErrInUse) {
		t.Errorf("Open while OpenReadOnly reads the file: %v; want ErrInUse", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open once OpenReadOnly's store is closed: %v; want it opened", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

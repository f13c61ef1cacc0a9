package sqlitestore_test

import (
	"errors"
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
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		s.Close()
		t.Fatal(err)
	}
	ro, err := sqlitestore.OpenReadOnly(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		ro.Close()
	}
	if !errors.Is(err, sqlitestore.ErrInUse) {
		t.Errorf("OpenReadOnly of a directory a store holds: %v; want ErrInUse", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err = sqlitestore.OpenReadOnly(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("OpenReadOnly once the store closed: %v; want it opened", err)
	}
	ro.Close()
}

package sqlitestore_test

import (
	"os"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestANewLogsFilesAreNotReadableByOtherUsers: the database file, and its
// -wal and -shm, which SQLite makes with the database file's mode, were
// made 0644 (SQLite's own mode) while the lock file is 0640 and a data
// directory the store makes 0750: in a directory made by someone else with
// the usual 0755 (a package, a bind mount, mkdir -p), every local user
// could read every event. They are made 0640 now, whatever the directory.
func TestANewLogsFilesAreNotReadableByOtherUsers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{s.Path(), s.Path() + "-wal", s.Path() + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("the new log's %s: %v", name, err)
			continue
		}
		if perm := fi.Mode().Perm(); perm&^0o640 != 0 {
			t.Errorf("the new log's %s has mode %#o; want 0640 (no more than the lock file's)", name, perm)
		}
	}
}

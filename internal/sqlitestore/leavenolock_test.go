package sqlitestore_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAStartRefusedLeavesNoLockFileItWasToLeaveNone: `api verify` opens a
// backup with Options.LeaveNoLockFile, and its Close removes the lock file
// it made; a start refused (a backup truncated to nothing, or one whose
// header went bad: what verify is run to find) returned before any Close,
// and left the tributary.lock it had made beside the backup, which the
// restore steps then say to remove. A refused start must remove the lock
// file it made, and keep one that was there.
func TestAStartRefusedLeavesNoLockFileItWasToLeaveNone(t *testing.T) {
	t.Parallel()
	for name, content := range map[string][]byte{
		"empty":      nil,
		"not SQLite": []byte("this is no database file, but a copy gone wrong, long enough for a header of one hundred bytes......."),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, sqlitestore.FileName), content, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{LeaveNoLockFile: true})
			if err == nil {
				s.Close()
				t.Fatalf("a start on a %s database file: no error; want it refused", name)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Errorf("a refused start with LeaveNoLockFile in a directory holding only %s left %q; want nothing beside it", sqlitestore.FileName, names)
			}

			// A lock file that was there is kept.
			lock := filepath.Join(dir, "tributary.lock")
			if err := os.WriteFile(lock, nil, 0o640); err != nil {
				t.Fatal(err)
			}
			if s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{LeaveNoLockFile: true}); err == nil {
				s.Close()
			}
			if _, err := os.Stat(lock); err != nil {
				t.Errorf("a refused start with LeaveNoLockFile removed the lock file that was there: %v; want it kept", err)
			}
		})
	}
}

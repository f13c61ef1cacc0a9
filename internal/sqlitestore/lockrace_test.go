//go:build unix

package sqlitestore_test

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStartWhoseLockIsLetGoBetweenItsTriesStarts: a start refused the
// exclusive lock (the old server, at a rolling restart) then tried a
// shared one to tell a read-only api verify from a server; where the old
// server ended between the two, the shared lock was granted and the start
// refused as "in use by another process that reads it without writing
// (api verify …)", though nothing held the lock and no verify ran. So was
// a second start, refused the exclusive lock while the first one's shared
// probe held it. A start whose shared lock is granted must try the
// exclusive one again, and start where nothing holds it any more: for the
// lock file and for the database file (reached through another path).
func TestAStartWhoseLockIsLetGoBetweenItsTriesStarts(t *testing.T) {
	for _, name := range []string{"tributary.lock", sqlitestore.FileName} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := teststore.OpenSQLite(t, dir)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The old server's lock, let go between the start's tries.
			held, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { held.Close() })
			if err := syscall.Flock(int(held.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			sqlitestore.BetweenLockTries(t, func() { once.Do(func() { held.Close() }) })

			again, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err != nil {
				t.Fatalf("Open whose exclusive lock on %s was let go between its tries: %v; want it to start", name, err)
			}
			if err := again.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

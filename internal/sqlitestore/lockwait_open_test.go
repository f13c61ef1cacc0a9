package sqlitestore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAStartWaitingForTheWriteLockAnotherProgramHoldsSaysSo: a start takes
// the database's write lock once (checkWritable); with another program
// holding it (an sqlite3 shell's open write transaction, a backup), the
// start waited for it and was refused with "begin a write: context
// deadline exceeded" (its time ran out first) or "begin a write: database
// unavailable: database is locked (5) (SQLITE_BUSY)" (SQLite's wait of
// 10 s did): neither says that another program holds the lock, nor what
// to do. It must say so, and once that program lets go, a start serves.
func TestAStartWaitingForTheWriteLockAnotherProgramHoldsSaysSo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		timeout time.Duration
	}{{"the start's time ends first", 300 * time.Millisecond}, {"SQLite's wait ends first", time.Minute}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := storeWithEvents(t, 1)
			release := holdWriteLock(t, dir)
			ctx, cancel := context.WithTimeout(t.Context(), c.timeout)
			defer cancel()
			s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
			if err == nil {
				s.Close()
				t.Fatal("a start while another program held the write lock: served; want it refused")
			}
			if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "write lock") ||
				!strings.Contains(err.Error(), "another program") {
				t.Errorf("a start while another program held the write lock: %v; want ErrUnavailable saying that another program holds the write lock", err)
			}
			release()
			s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err != nil {
				t.Fatalf("a start once the other program let the write lock go: %v", err)
			}
			if head, err := s.Head(t.Context()); err != nil || head != 1 {
				t.Errorf("the start once the lock was free: head %d (%v); want 1", head, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

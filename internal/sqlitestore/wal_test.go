package sqlitestore_test

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestTheWALStaysBoundedUnderReadersThatNeverPause: SQLite's checkpoint
// after a commit copies the WAL into the database file, but starts the WAL
// again from its beginning only at a moment no reader is using it. Under
// reads that overlap without a pause (subscribers catching up, clients
// paging the log), that moment never came: with six readers the WAL never
// restarted and grew by every page every commit wrote, 43 MB for an 18 MB
// file after 4,000 events, without bound (the disk, and every read's
// search of the WAL index). Past a size, the store now waits a moment for
// the readers to finish and restarts it.
func TestTheWALStaysBoundedUnderReadersThatNeverPause(t *testing.T) {
	t.Parallel()
	const limit = 512 << 10
	dir := t.TempDir()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{WALLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	// SQLite's checkpoint after a commit, at 100 pages of WAL rather than
	// 1,000: without readers, the WAL stays well within the limit.
	if err := s.Exec(t.Context(), "PRAGMA wal_autocheckpoint = 100"); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s, uuid.New(), 200, 100)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopReaders := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopReaders()
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				page, err := s.ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 50})
				if err != nil {
					t.Error(err)
					return
				}
				for _, err := range page.Events {
					if err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	size := func() int64 {
		fi, err := os.Stat(s.Path() + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	for range 60 { // about 2.4 MB of events, 5 MB of pages written
		appendEvents(t, s, uuid.New(), 10, 4000)
	}
	// A restart may wait for the readers in vain on a loaded machine, and
	// is tried again at a later commit: the WAL must come back within its
	// limit while they read. SQLite's own restart reuses the file from its
	// beginning, never making it smaller.
	grown, n := size(), 60
	for deadline := time.Now().Add(30 * time.Second); size() > limit; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("the WAL was %d bytes after the appends and is %d after %d more, with readers that never paused and a limit of %d; "+
				"expected it restarted within its limit", grown, size(), n-60, limit)
		}
		appendEvents(t, s, uuid.New(), 1, 100)
		time.Sleep(20 * time.Millisecond)
	}
	stopReaders()
	if _, err := s.ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	if head, err := s.Head(t.Context()); err != nil || head != int64(200+10*60+n-60) {
		t.Errorf("head after the appends: %d, %v; expected %d", head, err, 200+10*60+n-60)
	}
}

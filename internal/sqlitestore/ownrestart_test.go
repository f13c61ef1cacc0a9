package sqlitestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestTheStoresOwnWALRestartIsNeverTakenForACopyOverTheFile: the store's own
// restart of its WAL (wal_checkpoint(TRUNCATE) on the connection it keeps)
// that does not get SQLite's write lock within its wait (the writer holds it
// group after group) is run by SQLite as a passive checkpoint beside the
// writer's groups, writing the database file page by page while the WAL
// index's record says nothing new. The look for a copy over the file took it
// for one: appends, and reads after them, were refused as "overwritten",
// with nothing but the store writing the file. Under a steady load of
// appends, with a WAL limit low enough for restarts to follow one another,
// none may be refused. The load stops by itself after a few seconds; the
// counts decide.
func TestTheStoresOwnWALRestartIsNeverTakenForACopyOverTheFile(t *testing.T) {
	s := openNew(t, sqlitestore.Options{WALLimit: 128 << 10})
	load := newAppendLoad()
	load.appenders(t, s, 6)
	load.beside(time.Millisecond, func() { // a reader beside the appends, not a second load
		if _, err := s.Tail().Head(t.Context()); err != nil {
			load.failed(err)
		}
	})
	// Within the load, restarts follow one another, each a moment when the
	// look ran beside one.
	load.end(t, 6*time.Second, "appends or reads", "the store")
	t.Logf("%d restarts of the WAL tried beside the appends and %d reads", s.WALRestarts(), load.rounds.Load())
	if s.WALRestarts() == 0 {
		t.Fatalf("no restart of the WAL was tried under %d appends and %d reads: the test proves nothing", load.written.Load(), load.rounds.Load())
	}
	stillServes(t, s)
}

// TestACopyThatTakesTheFileBackIsFoundBesideARestartOfTheWAL: while one of
// the store's restarts of the WAL runs, its checkpoint may be writing the
// file, and the look for a copy over it can no longer judge the size, the
// header or log_head's page; but no checkpoint takes the file's change
// counter back, so an older copy put over the file then is still refused.
func TestACopyThatTakesTheFileBackIsFoundBesideARestartOfTheWAL(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 2)
	backup := filepath.Join(t.TempDir(), sqlitestore.FileName)
	b, err := os.ReadFile(filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backup, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	big := eventstore.NewEvent{Type: "Big", Data: []byte(`"` + strings.Repeat("x", 60_000) + `"`)}
	for range 80 { // past SQLite's checkpoint of 1,000 pages: it writes page 1, the change counter up
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{big}}); err != nil {
			t.Fatal(err)
		}
	}
	if old, now := changeCounterOf(t, backup), changeCounterOf(t, s.Path()); old >= now {
		t.Fatalf("the file's change counter is %d, the older copy's %d: no checkpoint wrote page 1, the test proves nothing", now, old)
	}
	release := s.HoldWALRestart()
	overwriteInPlace(t, backup, s.Path())
	err = appendAfter(t, s)
	release()
	if !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("an append after an older copy was put over the file beside a restart of the WAL: %v; want it refused as overwritten", err)
	}
	if err := appendAfter(t, s); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("an append after the restart: %v; want it refused as overwritten still", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("Ping: %v; want the file overwritten", err)
	}
}

// TestAFileGrowingBesideARestartOfTheWALIsNoCopy: the same, with no load and
// no timing: while a restart of the WAL runs, the file grows as its
// checkpoint grows it (page by page, nothing new recorded in the WAL
// index), and an append then must be written, not refused as overwritten.
func TestAFileGrowingBesideARestartOfTheWALIsNoCopy(t *testing.T) {
	t.Parallel()
	s, err := sqlitestore.Open(t.Context(), storeWithEvents(t, 2), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	appendN(t, s, 1)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	grow := func(size int64) {
		t.Helper()
		if err := os.Truncate(s.Path(), size); err != nil {
			t.Fatal(err)
		}
	}
	release := s.HoldWALRestart()
	grow(fi.Size() + 4096)
	err = appendAfter(t, s)
	grow(fi.Size()) // as the restart left it: what the next look takes
	release()
	if err != nil {
		t.Errorf("an append while a restart of the WAL grew the file: %v; want it written", err)
	}
	if err := appendAfter(t, s); err != nil {
		t.Errorf("an append after the restart: %v; want it written", err)
	}
	// Without a restart running, the same growth is a write beside SQLite.
	grow(fi.Size() + 4096)
	if err := appendAfter(t, s); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("an append after the file grew with no checkpoint: %v; want it refused as overwritten", err)
	}
}

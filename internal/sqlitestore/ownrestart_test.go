package sqlitestore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
	ctx := context.Background()
	s, err := sqlitestore.Open(ctx, t.TempDir(), sqlitestore.Options{WALLimit: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	data := []byte(`"` + strings.Repeat("x", 8<<10) + `"`)
	stop := make(chan struct{})
	var refused, other, written, reads atomic.Int64
	var firstErr atomic.Value
	failed := func(err error) {
		if errors.Is(err, eventstore.ErrOverwritten) {
			refused.Add(1)
		} else {
			other.Add(1)
		}
		firstErr.CompareAndSwap(nil, err.Error())
	}
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for !stopped() {
				_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
					Events: []eventstore.NewEvent{{Type: "E", Data: data}, {Type: "E", Data: data}}})
				if err != nil {
					failed(err)
					continue
				}
				written.Add(1)
			}
		})
	}
	wg.Go(func() {
		for !stopped() {
			if _, err := s.Tail().Head(ctx); err != nil {
				failed(err)
			}
			reads.Add(1)
			time.Sleep(time.Millisecond) // a reader beside the appends, not a second load
		}
	})
	// The load's length is no pass or fail: within it, restarts follow one
	// another, each a moment when the look ran beside one.
	time.Sleep(6 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d restarts of the WAL tried; %d appends written, %d reads; %d refused as overwritten, %d other failures",
		s.WALRestarts(), written.Load(), reads.Load(), refused.Load(), other.Load())
	if refused.Load() > 0 || other.Load() > 0 {
		t.Fatalf("%d appends or reads refused as overwritten, %d failed otherwise, with nothing but the store writing the file; "+
			"want none: the first: %v", refused.Load(), other.Load(), firstErr.Load())
	}
	if s.WALRestarts() == 0 {
		t.Fatalf("no restart of the WAL was tried under %d appends: the test proves nothing", written.Load())
	}
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "E", Data: []byte("{}")}}}); err != nil {
		t.Errorf("an append after the load: %v; want it written", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the load: %v; want nil", err)
	}
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
	changeCounter := func(path string) uint32 {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var h [28]byte
		if _, err := f.ReadAt(h[:], 0); err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint32(h[24:])
	}
	if old, now := changeCounter(backup), changeCounter(s.Path()); old >= now {
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

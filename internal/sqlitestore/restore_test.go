package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// restoreLive restores the database file at backup into the running
// store's file through a connection of its own, as `sqlite3 tributary.db
// ".restore backup.db"` does beside a running server (SQLite's backup API,
// into the live file).
func restoreLive(t *testing.T, s *sqlitestore.Store, backup string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(interface {
			NewRestore(string) (*sqlite.Backup, error)
		})
		if !ok {
			return errors.New("the driver's connection offers no restore")
		}
		b, err := r.NewRestore(backup)
		if err != nil {
			return err
		}
		for {
			more, err := b.Step(-1) // true while pages remain
			if err != nil {
				b.Finish() //nolint:errcheck // the step's error says it
				return err
			}
			if !more {
				return b.Finish()
			}
		}
	})
	if err != nil {
		t.Fatalf("restore %s into the running store's file: %v", backup, err)
	}
}

// checkpointBeside copies the WAL's pages into the running store's file
// from a connection of its own, as another process's SQLite does after its
// commits.
func checkpointBeside(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for {
		var busy, frames, copied int64
		if err := db.QueryRowContext(t.Context(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
			t.Fatalf("a checkpoint beside the store: %v", err)
		}
		if copied > 0 {
			return
		}
		appendN(t, s, 1) // the store's own restart emptied the WAL: give it a page to copy
	}
}

// appendN appends n events to a new stream of s.
func appendN(t *testing.T, s *sqlitestore.Store, n int) {
	t.Helper()
	events := make([]eventstore.NewEvent, n)
	for i := range events {
		events[i] = eventstore.NewEvent{Type: "Happened", Data: []byte(`{}`)}
	}
	if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: events}); err != nil {
		t.Fatal(err)
	}
}

// headOf opens the store in dir, returns its head and closes it, or
// returns Open's error.
func headOf(ctx context.Context, dir string) (int64, error) {
	s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.Head(ctx)
}

// TestAStartAfterALiveRestoreAndACrashSaysHowToGoOn: a backup restored
// into the running store's file (`sqlite3 tributary.db ".restore
// backup.db"`, which the README allows) takes the log back to the backup's
// head, which the running store then serves; but the lock file keeps the
// head of the last commit before it. A crash before the next commit, and
// the next start is refused, rightly (it cannot tell the restore from a
// WAL that lost its last commits), but it said only that a frame of the WAL
// was damaged and to restore the directory from a backup, which the
// operator had just done. It must name the restore, and that removing the
// lock file starts the restored log; so removed, the log starts at the
// backup's head. After an append, or a clean stop, the restored log starts
// as it is.
func TestAStartAfterALiveRestoreAndACrashSaysHowToGoOn(t *testing.T) {
	t.Parallel()
	backupDir := storeWithEvents(t, 2) // stopped cleanly: the file holds every commit
	backup := filepath.Join(backupDir, sqlitestore.FileName)
	dir := storeWithEvents(t, 2)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	appendN(t, s, 3) // head 5, recorded in the lock file
	restoreLive(t, s, backup)
	if head, err := s.Head(t.Context()); err != nil || head != 2 {
		t.Fatalf("the running store after the restore: head %d (%v); want the backup's 2", head, err)
	}

	crashed := crashImage(t, s)
	head, err := headOf(t.Context(), crashed)
	switch {
	case err == nil:
		t.Errorf("a start after a live restore to head 2 and a crash, the last commit before it at 5: started at head %d; want it refused, "+
			"as a WAL that lost its last commits is", head)
	case !strings.Contains(err.Error(), ".restore") || !strings.Contains(err.Error(), "to start on the restored log, remove "+filepath.Join(crashed, "tributary.lock")):
		t.Errorf("a start after a live restore and a crash: %v; want it to name a restore while the last run ran, and removing tributary.lock to start on the restored log", err)
	}
	if err := os.Remove(filepath.Join(crashed, "tributary.lock")); err != nil {
		t.Fatal(err)
	}
	if head, err := headOf(t.Context(), crashed); err != nil || head != 2 {
		t.Errorf("a start after a live restore and a crash, the lock file removed as the refusal says: head %d (%v); want the restored 2", head, err)
	}

	appendN(t, s, 1) // head 3, recorded
	if head, err := headOf(t.Context(), crashImage(t, s)); err != nil || head != 3 {
		t.Errorf("a start after a live restore, an append and a crash: head %d (%v); want 3", head, err)
	}
	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if head, err := headOf(t.Context(), dir); err != nil || head != 3 {
		t.Errorf("a start after a live restore, an append and a clean stop: head %d (%v); want 3", head, err)
	}
}

// overwriteInPlace writes the bytes of the file at from over the file at
// to, as `cp from to` does: the same file (inode), truncated and written.
func overwriteInPlace(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestADatabaseFileOverwrittenInPlaceWhileRunningIsRefused: a backup copied
// over the running store's file (`cp backup.db tributary.db`, a restore
// done as if the server were stopped) was not noticed: the connections
// keep the file, which is the same file, and read the pages of its WAL over
// it, so appends went on at the old log's head and reads served the old
// log; the clean stop then copied the WAL's pages into the backup's,
// leaving a file that is neither (here, the old log whole: the restore
// silently undone). Appends and the readiness probe must refuse, saying
// the file was overwritten while the server ran and how to restore it; a
// store whose file only SQLite writes (its checkpoints, the WAL's
// restarts, a restore through SQLite beside it) must not be taken for one.
func TestADatabaseFileOverwrittenInPlaceWhileRunningIsRefused(t *testing.T) {
	t.Parallel()
	backup := filepath.Join(storeWithEvents(t, 2), sqlitestore.FileName)
	dir := storeWithEvents(t, 2)
	// A small WAL limit: the store restarts its WAL (a checkpoint into the
	// file) now and then, and SQLite checkpoints after commits too.
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{WALLimit: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	big := eventstore.NewEvent{Type: "Big", Data: []byte(`"` + strings.Repeat("x", 60_000) + `"`)}
	for range 120 { // about 7 MB: past SQLite's checkpoint of 1,000 pages, and the limit, many times
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{big}}); err != nil {
			t.Fatalf("an append while only SQLite writes the file: %v", err)
		}
	}
	restoreLive(t, s, backup) // through SQLite: allowed
	for range 3 {
		appendN(t, s, 1)
		checkpointBeside(t, s) // as an operator's sqlite3 may
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("ping while only SQLite writes the file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The store as it runs on its default WAL limit (no restart under
	// way, which would race the copy).
	s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 1)
	overwriteInPlace(t, backup, s.Path())
	_, err = s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{{Type: "After", Data: []byte(`{}`)}}})
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "overwritten") {
		t.Errorf("an append after the file was overwritten in place: %v; want ErrUnavailable saying the file was overwritten while the server ran", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "overwritten") {
		t.Errorf("ping after the file was overwritten in place: %v; want ErrUnavailable saying so", err)
	}
}

// appendAfter appends one event to a new stream of s and returns its error.
func appendAfter(t *testing.T, s *sqlitestore.Store) error {
	t.Helper()
	_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{{Type: "After", Data: []byte(`{}`)}}})
	return err
}

// TestTouchingTheDatabaseFileWhileRunningIsNoOverwrite: the look for a copy
// over the file took a new modification time, without a checkpoint, for
// one: an operator's touch (the README's way to ask the next start for the
// full check), or a backup tool that sets the times it copied, and every
// append after it was refused, and /readyz failed, until a restart. The
// file's bytes are SQLite's as they were: appends and Ping must pass.
func TestTouchingTheDatabaseFileWhileRunningIsNoOverwrite(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, storeWithEvents(t, 2))
	t.Cleanup(func() { s.Close() })
	appendN(t, s, 1)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	for i, when := range []time.Time{fi.ModTime().Add(time.Hour), fi.ModTime().Add(-time.Hour)} {
		if err := os.Chtimes(s.Path(), when, when); err != nil {
			t.Fatal(err)
		}
		if err := appendAfter(t, s); err != nil {
			t.Errorf("an append after touch %d of the database file: %v; want it to pass", i+1, err)
		}
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("ping after touch %d of the database file: %v; want it to pass", i+1, err)
		}
	}
}

// TestACopyOverTheDatabaseFileAfterACheckpointIsRefused: the look for a
// copy over the file took any change to it for SQLite's own once a
// checkpoint was recorded since the last look (here another process's, as
// an operator's sqlite3 runs after its commits; the store's restart of its
// WAL is one too), so a copy made after it was served as the log. The copy
// holds a database whose change counter (the header's, which SQLite only
// ever raises) is behind the file's: it must be refused as overwritten.
func TestACopyOverTheDatabaseFileAfterACheckpointIsRefused(t *testing.T) {
	t.Parallel()
	backup := filepath.Join(storeWithEvents(t, 2), sqlitestore.FileName)
	s := openMigrated(t, storeWithEvents(t, 2))
	t.Cleanup(func() { s.Close() })
	for range 20 { // the file grows, and its change counter past the copy's
		appendEvents(t, s, uuid.New(), 1, 5000)
	}
	checkpointBeside(t, s)
	appendN(t, s, 1) // a look, and the state the next one compares with
	checkpointBeside(t, s)
	overwriteInPlace(t, backup, s.Path())
	if err := appendAfter(t, s); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("an append after a checkpoint and a copy over the file: %v; want ErrOverwritten", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("ping after a checkpoint and a copy over the file: %v; want ErrOverwritten", err)
	}
}

// TestACopyOverTheDatabaseFileDuringAnAppendAfterACheckpointIsRefused: the
// store takes the file's state after each commit where a checkpoint was
// recorded since (its own, or here another process's during the append's
// transaction), so a copy made over the file after that checkpoint, before
// the commit, became the state the next look compared with, and the copy
// was served as the log. Its change counter is behind the file's: the next
// append must be refused as overwritten.
func TestACopyOverTheDatabaseFileDuringAnAppendAfterACheckpointIsRefused(t *testing.T) {
	t.Parallel()
	backup := filepath.Join(storeWithEvents(t, 2), sqlitestore.FileName)
	s := openMigrated(t, storeWithEvents(t, 2))
	t.Cleanup(func() { s.Close() })
	for range 20 { // the file grows, and its change counter past the copy's
		appendEvents(t, s, uuid.New(), 1, 5000)
	}
	checkpointBeside(t, s) // the file's counter, at the look of the next append
	appendN(t, s, 1)       // frames for the checkpoint during the next
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var once sync.Once
	s.SetBeforeCommit(func() {
		once.Do(func() {
			var busy, frames, copied int64
			if err := db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil || copied == 0 {
				t.Errorf("a checkpoint beside the store during an append: %d frames copied (%v); want the earlier appends'", copied, err)
			}
			overwriteInPlace(t, backup, s.Path())
		})
	})
	appendN(t, s, 1) // the copy comes after the look before its writes
	if err := appendAfter(t, s); !errors.Is(err, eventstore.ErrOverwritten) {
		t.Errorf("an append after a copy over the file made during the last one, after a checkpoint: %v; want ErrOverwritten", err)
	}
}

// TestAReadOnlyInstanceFindsADatabaseFileOverwrittenInPlace: the look for a
// copy over the file (cp backup.db tributary.db while the server runs) ran
// only before an append's writes, so an instance that only served reads,
// subscriptions and /readyz never looked: it served the copy, under the
// old log's WAL pages, as the log, and /readyz answered 200, until an
// append came. Every read, the live feed's and Ping must find it, each on
// its own, with no append before them.
func TestAReadOnlyInstanceFindsADatabaseFileOverwrittenInPlace(t *testing.T) {
	t.Parallel()
	backup := filepath.Join(storeWithEvents(t, 2), sqlitestore.FileName)
	stream := uuid.New()
	for _, c := range []struct {
		name string
		read func(ctx context.Context, s *sqlitestore.Store) error
	}{
		{"Ping", func(ctx context.Context, s *sqlitestore.Store) error { return s.Ping(ctx) }},
		{"Head", func(ctx context.Context, s *sqlitestore.Store) error { _, err := s.Head(ctx); return err }},
		{"ReadAll", func(ctx context.Context, s *sqlitestore.Store) error { _, err := readLog(ctx, s); return err }},
		{"ReadStream", func(ctx context.Context, s *sqlitestore.Store) error {
			_, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: 10})
			return err
		}},
		{"Stream", func(ctx context.Context, s *sqlitestore.Store) error { _, err := s.Stream(ctx, stream); return err }},
		{"Event", func(ctx context.Context, s *sqlitestore.Store) error { _, err := s.Event(ctx, stream, 1); return err }},
		{"ListStreams", func(ctx context.Context, s *sqlitestore.Store) error {
			_, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{Limit: 10})
			return err
		}},
		{"the live feed's Head", func(ctx context.Context, s *sqlitestore.Store) error { _, err := s.Tail().Head(ctx); return err }},
		{"the live feed's ReadAll", func(ctx context.Context, s *sqlitestore.Store) error { _, err := readTail(ctx, s); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openMigrated(t, dir)
			appendEvents(t, s, stream, 3, 10)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if err := c.read(t.Context(), s); err != nil {
				t.Fatalf("%s before the copy: %v", c.name, err)
			}
			overwriteInPlace(t, backup, s.Path())
			if err := c.read(t.Context(), s); !errors.Is(err, eventstore.ErrOverwritten) {
				t.Errorf("%s of an instance that appended nothing, after a copy over its file: %v; want ErrOverwritten", c.name, err)
			}
		})
	}
}

// TestReadsBesideTheStoresOwnCheckpointsFindNoOverwrite: reads look for a
// copy over the file too, and run beside the store's checkpoints (SQLite's
// after its commits, the WAL's restarts) and another process's, which
// write the file: none of that may be taken for a copy, by a read, by
// Ping or by the appends after them.
func TestReadsBesideTheStoresOwnCheckpointsFindNoOverwrite(t *testing.T) {
	t.Parallel()
	// A small WAL limit: the store restarts its WAL now and then, and
	// SQLite checkpoints after commits too.
	s, err := sqlitestore.Open(t.Context(), storeWithEvents(t, 2), sqlitestore.Options{WALLimit: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				for what, err := range map[string]error{"ping": s.Ping(t.Context()), "head": func() error { _, err := s.Head(t.Context()); return err }(),
					"the live feed's head": func() error { _, err := s.Tail().Head(t.Context()); return err }()} {
					if err != nil {
						t.Errorf("%s beside the store's checkpoints: %v; want it to pass", what, err)
						return
					}
				}
				reads.Add(1)
			}
		})
	}
	big := eventstore.NewEvent{Type: "Big", Data: []byte(`"` + strings.Repeat("x", 60_000) + `"`)}
	for i := range 120 { // about 7 MB: past SQLite's checkpoint of 1,000 pages, and the limit, many times
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{big}}); err != nil {
			t.Errorf("an append beside reads while only SQLite writes the file: %v", err)
			break
		}
		if i%40 == 39 {
			checkpointBeside(t, s) // as an operator's sqlite3 may
		}
	}
	close(done)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("no read ran beside the appends")
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("ping after reads beside the store's checkpoints: %v; want it to pass", err)
	}
}

// TestACopyTakenAfterACheckpointAndPutBackAfterAnotherIsRefused: a copy of
// the file taken after a checkpoint, and put back over it after the next
// one (here another process's, which the store notes at its next look),
// has the change counter the file had at the last look: the look took
// the file's change for that checkpoint's writes, and the copy was served
// as the log, under WAL pages that are not its own. The checkpoint copied
// the WAL's log_head page into the file, and the copy's differs: refused,
// whether that page's frame is among the WAL index's first 4,062 or past
// them (a checkpoint of a large commit, held up by a reader).
func TestACopyTakenAfterACheckpointAndPutBackAfterAnotherIsRefused(t *testing.T) {
	t.Parallel()
	for _, large := range []bool{false, true} {
		t.Run(fmt.Sprintf("large %t", large), func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, storeWithEvents(t, 2))
			t.Cleanup(func() { s.Close() })
			checkpointBeside(t, s)
			appendN(t, s, 1) // a look, which takes the checkpoint's file
			copied, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			if !large {
				appendN(t, s, 3)
			} else {
				// A reader holds SQLite's checkpoint after the commit back,
				// and the commit's frames are the WAL's whole then.
				db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				tx, err := db.BeginTx(t.Context(), nil)
				if err != nil {
					t.Fatal(err)
				}
				var n int
				if err := tx.QueryRow("SELECT count(*) FROM events").Scan(&n); err != nil {
					t.Fatal(err)
				}
				appendEvents(t, s, uuid.New(), 24, 1<<20) // past 6,000 pages
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
			}
			checkpointBeside(t, s)
			copy := filepath.Join(t.TempDir(), "copy.db")
			if err := os.WriteFile(copy, copied, 0o600); err != nil {
				t.Fatal(err)
			}
			overwriteInPlace(t, copy, s.Path())
			if err := appendAfter(t, s); !errors.Is(err, eventstore.ErrOverwritten) {
				t.Errorf("an append after a copy taken after a checkpoint was put back after the next: %v; want ErrOverwritten", err)
			}
			if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrOverwritten) {
				t.Errorf("ping after a copy taken after a checkpoint was put back after the next: %v; want ErrOverwritten", err)
			}
		})
	}
}

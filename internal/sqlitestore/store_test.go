package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"modernc.org/sqlite"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	b := teststore.SQLite.Backend
	b.BeforeCommit = func(s eventstore.Store, f func()) { s.(*sqlitestore.Store).SetBeforeCommit(f) }
	storetest.Exercise(t, b)
	// SQLite's largest row lowered on the writer's connection, as a smaller
	// build would have it: no event of this size could be stored.
	storetest.ExerciseTooLarge(t, b, func(t *testing.T, s eventstore.Store) int {
		t.Helper()
		const limit = 200_000
		if err := s.(*sqlitestore.Store).LimitLength(t.Context(), limit); err != nil {
			t.Fatal(err)
		}
		return limit
	})
}

// TestOneProcessPerDataDirectory: a second store on the same directory is
// refused with a clear error while the first is open, and allowed after.
func TestOneProcessPerDataDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := sqlitestore.Open(context.Background(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlitestore.Open(context.Background(), dir, sqlitestore.Options{}); !errors.Is(err, sqlitestore.ErrInUse) ||
		!strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open on a directory in use: err = %v, want ErrInUse naming pid %d", err, os.Getpid())
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	teststore.OpenSQLite(t, dir) // free again
}

// TestAFullDiskIsUnavailableNotAnInternalError: what the database cannot do
// right now (a full disk, an I/O error, a lock held too long) is
// ErrUnavailable, which clients see as 503 with Retry-After, not a 500.
func TestAFullDiskIsUnavailableNotAnInternalError(t *testing.T) {
	t.Parallel()
	s := teststore.OpenSQLite(t, t.TempDir())
	if err := s.LimitPages(1); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 64<<10)
	for i := range big {
		big[i] = 'x'
	}
	data := []byte(`"` + string(big) + `"`)
	_, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "Big", Data: data}}})
	if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, eventstore.ErrFull) {
		t.Fatalf("append to a full database: err = %v, want ErrUnavailable and ErrFull (the 503 then says the database is full, as the MySQL store's does)", err)
	}
	if n, err := s.Head(context.Background()); err != nil || n != 0 {
		t.Fatalf("after the failed append the head is %d (%v), want 0: nothing written", n, err)
	}
}

// TestAnAppendWaitingOnALockPastItsDeadlineWritesNothing: another connection
// to the file holds the write lock past an append's deadline. The append
// fails and, once the lock is free, nothing of it is written: the MySQL
// store's sibling test is about a batch whose COMMIT was already on the
// server; here COMMIT is sent only after the writes returned and every
// caller still waits.
func TestAnAppendWaitingOnALockPastItsDeadlineWritesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := teststore.OpenSQLite(t, dir)
	ctx := context.Background()
	x := uuid.New()
	one := func(ctx context.Context, expected eventstore.ExpectedVersion) (eventstore.AppendResult, error) {
		return s.Append(ctx, eventstore.AppendRequest{StreamID: x, StreamType: "t", Expected: expected,
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
	}
	if _, err := one(ctx, eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = one(short, eventstore.Exactly(1))
	cancel()
	if err == nil {
		t.Fatal("an append while another connection held the write lock past its deadline succeeded")
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := other.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // anything left waiting runs now
	if n, err := s.Head(ctx); err != nil || n != 1 {
		t.Fatalf("the head is %d (%v) after a failed append; want 1", n, err)
	}
	if _, err := one(ctx, eventstore.Exactly(1)); err != nil {
		t.Fatalf("append at version 1 once the lock is free: %v", err)
	}
}

// TestADatabasePathThatIsNotAFileIsRefusedSayingSo: a directory where the
// database file belongs was refused as "database unavailable: unable to
// open database file (14)", which reads as a passing outage and says
// nothing of the directory; the error must say what is there.
func TestADatabasePathThatIsNotAFileIsRefusedSayingSo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, sqlitestore.FileName), 0o750); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open with a directory at the database file's path: expected an error, got none")
	}
	if !strings.Contains(err.Error(), "is a directory") || errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Open with a directory at the database file's path: expected an error saying it is a directory, not ErrUnavailable; got %v", err)
	}
}

// TestADataDirectoryWithURICharactersKeepsItsDatabaseInside: the database
// was opened by a name made of the path and "?_pragma=…", which the driver
// cuts at the first "?": with TRIBUTARY_DATA_DIR=/srv/a?b the database was
// /srv/a, outside the directory and its lock (so two directories /srv/a?b
// and /srv/a?c shared one database, each under its own lock), opened
// without the settings after the cut. The file must be where the path
// says, whatever characters the path holds.
func TestADataDirectoryWithURICharactersKeepsItsDatabaseInside(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a?b", "c#d", "e%20f", "file:g", "h&_pragma=x"} {
		parent := t.TempDir()
		dir := filepath.Join(parent, name)
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", dir, err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			s.Close()
			t.Fatalf("Migrate in %q: %v", dir, err)
		}
		for pragma, want := range map[string]string{"journal_mode": "wal", "busy_timeout": "10000", "synchronous": "2"} {
			var got string
			if err := s.QueryRow(t.Context(), "PRAGMA "+pragma, &got); err != nil || got != want {
				t.Errorf("Open(%q): %s %q (%v), expected %s", dir, pragma, got, err, want)
			}
		}
		s.Close()
		if _, err := os.Stat(filepath.Join(dir, sqlitestore.FileName)); err != nil {
			t.Errorf("Open(%q): expected the database at %s: %v", dir, filepath.Join(dir, sqlitestore.FileName), err)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("Open(%q): expected only the data directory in %s, found %q", dir, parent, names)
		}
	}
}

// TestAnAppendWhoseCommitOutlastsItsDeadlineIsReportedAsItEnded: the
// driver reports a statement whose context ended while it ran as the
// context's error, even when the statement went through. A COMMIT whose
// fsync outlasted the callers' deadline was so reported: the client got a
// 503, told nothing was written, while its events were in the log (and a
// retry without event ids wrote them twice). A commit hook that sleeps past
// the deadline stands in for a slow disk.
func TestAnAppendWhoseCommitOutlastsItsDeadlineIsReportedAsItEnded(t *testing.T) {
	dir := t.TempDir()
	var slow atomic.Bool
	sqlite.RegisterConnectionHook(func(conn sqlite.ExecQuerierContext, dsn string) error {
		if h, ok := conn.(sqlite.HookRegisterer); ok && strings.Contains(dsn, dir) {
			h.RegisterCommitHook(func() int32 {
				if slow.Load() {
					time.Sleep(400 * time.Millisecond)
				}
				return 0
			})
		}
		return nil
	})
	s := teststore.OpenSQLite(t, dir)
	ctx := context.Background()
	slow.Store(true)
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	_, err := s.Append(short, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
	cancel()
	slow.Store(false)
	head, herr := s.Head(ctx)
	if herr != nil {
		t.Fatal(herr)
	}
	switch {
	case err != nil && head != 0:
		t.Fatalf("the append failed (%v), yet the log's head is %d: its event was written", err, head)
	case err == nil && head != 1:
		t.Fatalf("the append succeeded, yet the log's head is %d, expected 1", head)
	}
}

// TestADatabaseFileReachedThroughALinkIsRefusedWhileInUse: the lock was the
// data directory's, so a second process whose directory held a symbolic or
// hard link to the first one's database file opened the same database
// beside it (through a hard link with a WAL of its own, which corrupts it).
// The second store on the same file must be refused, however it is reached.
func TestADatabaseFileReachedThroughALinkIsRefusedWhileInUse(t *testing.T) {
	t.Parallel()
	for name, link := range map[string]func(string, string) error{"symlink": os.Symlink, "hard link": os.Link} {
		dir, other := t.TempDir(), t.TempDir()
		first := teststore.OpenSQLite(t, dir)
		if err := link(first.Path(), filepath.Join(other, sqlitestore.FileName)); err != nil {
			t.Fatal(err)
		}
		second, err := sqlitestore.Open(t.Context(), other, sqlitestore.Options{})
		if err == nil {
			second.Close()
			t.Errorf("%s: Open of a directory whose database file is a %s to one in use succeeded, expected ErrInUse", name, name)
			continue
		}
		if !errors.Is(err, sqlitestore.ErrInUse) {
			t.Errorf("%s: Open of a directory whose database file is a %s to one in use: err = %v, expected ErrInUse", name, name, err)
		}
	}
}

// TestAnAppendToADatabaseFileRemovedOrMovedIsRefusedUntilItIsBack: the
// writer's connection keeps the file it opened, whatever happens to its
// path. With the data directory renamed, appends were acknowledged into the
// moved files while reads failed with "unable to open database file"; with
// the files removed (rm tributary.db*), appends were acknowledged into a
// file no one could open again, and a restart had none of them. Both must
// be refused, saying what happened, and the directory renamed back must
// serve again.
func TestAnAppendToADatabaseFileRemovedOrMovedIsRefusedUntilItIsBack(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	x := uuid.New()
	one := func() error {
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: x, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
		return err
	}
	if err := one(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, dir+"-moved"); err != nil {
		t.Fatal(err)
	}
	if err := one(); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "moved or removed") {
		t.Errorf("append with the data directory renamed: err = %v, expected ErrUnavailable saying the file was moved or removed", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("ping with the data directory renamed: err = %v, expected ErrUnavailable", err)
	}
	if err := os.Rename(dir+"-moved", dir); err != nil {
		t.Fatal(err)
	}
	if err := one(); err != nil {
		t.Errorf("append once the data directory is back: %v", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("ping once the data directory is back: %v", err)
	}
	if head, err := s.Head(t.Context()); err != nil || head != 2 {
		t.Errorf("the head is %d (%v) after an append, a refused one and another; expected 2", head, err)
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(s.Path() + suffix); err != nil {
			t.Fatal(err)
		}
	}
	if err := one(); err == nil {
		t.Errorf("append with the database file removed was acknowledged, into a file no restart can open; expected ErrUnavailable")
	} else if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("append with the database file removed: err = %v, expected ErrUnavailable", err)
	}
}

// TestADatabaseFileWithAHardLinkIsRefusedAtOpen: SQLite keeps a WAL beside
// each name of a database file. A server on a hard link to another
// directory's file (cp -al for a "backup", a link made by hand) kept its
// commits in a WAL there: after a kill -9 it had acknowledged an append
// that a server on the other name did not have, and would later write its
// stale WAL over that one's. A file with more than one name must be
// refused, whichever name is opened, even when nothing else has it open.
func TestADatabaseFileWithAHardLinkIsRefusedAtOpen(t *testing.T) {
	t.Parallel()
	dir, other := t.TempDir(), t.TempDir()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Migrate(t.Context())
	if err := errors.Join(err, s.Close()); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(s.Path(), filepath.Join(other, sqlitestore.FileName)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, other} {
		s, err := sqlitestore.Open(t.Context(), d, sqlitestore.Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%s), whose database file has another name: expected an error saying it has hard links, got none", d)
			continue
		}
		if !strings.Contains(err.Error(), "hard link") {
			t.Errorf("Open(%s), whose database file has another name: expected an error saying it has hard links, got %v", d, err)
		}
	}
}

// TestAnAppendWithTheWALRemovedIsRefused: SQLite's connections keep the WAL
// they opened, whatever becomes of its name. With tributary.db-wal removed
// by hand while the server ran (the database file left in place), appends
// were acknowledged into the unlinked WAL, which a crash takes with it (a
// restart opens the database file without them), and a new connection
// opened a new, empty WAL beside the index of the old one. An append must
// be refused, and /readyz must say so.
func TestAnAppendWithTheWALRemovedIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	one := func() error {
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
		return err
	}
	if err := one(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.Path() + "-wal"); err != nil {
		t.Fatal(err)
	}
	if err := one(); err == nil {
		t.Errorf("append with the WAL removed was acknowledged, into a WAL no restart after a crash opens; expected ErrUnavailable")
	} else if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("append with the WAL removed: err = %v, expected ErrUnavailable", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("ping with the WAL removed: err = %v, expected ErrUnavailable", err)
	}
	// A clean stop copies the acknowledged append into the database file.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if head, err := s.Head(t.Context()); err != nil || head != 1 {
		t.Errorf("after a clean stop and a restart, the head is %d (%v); expected 1, the acknowledged append", head, err)
	}
}

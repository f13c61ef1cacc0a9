package sqlitestore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// storeWithEvents makes a migrated store in a fresh directory, appends n
// events to one stream and closes it; it returns the directory.
func storeWithEvents(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	events := make([]eventstore.NewEvent, n)
	for i := range events {
		events[i] = eventstore.NewEvent{Type: "Happened", Data: []byte(`{}`)}
	}
	if n > 0 {
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: events}); err != nil {
			s.Close()
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAnEmptiedOrHeaderlessDatabaseFileIsRefusedNotStartedAsANewLog: a
// database file truncated to zero bytes (a botched restore, `> tributary.db`
// on a full disk) was opened as a new, empty log: every consumer's position
// then pointed past the head, and new events took positions consumers had
// already seen. A file that is there but holds no database header must be
// refused, saying what to do, and left as it was.
func TestAnEmptiedOrHeaderlessDatabaseFileIsRefusedNotStartedAsANewLog(t *testing.T) {
	t.Parallel()
	for name, size := range map[string]int64{"empty": 0, "cut inside its header": 40} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := storeWithEvents(t, 3)
			path := filepath.Join(dir, sqlitestore.FileName)
			if err := os.Truncate(path, size); err != nil {
				t.Fatal(err)
			}
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err == nil {
				head, herr := int64(-1), s.Migrate(t.Context())
				if herr == nil {
					head, herr = s.Head(t.Context())
				}
				s.Close()
				t.Fatalf("Open of a database file of %d bytes succeeded (a new log, head %d, %v); expected it refused", size, head, herr)
			}
			if !strings.Contains(err.Error(), "backup") || !strings.Contains(err.Error(), path) {
				t.Errorf("Open of a database file of %d bytes: expected an error naming the file and saying to restore it from a backup, got %v", size, err)
			}
			if errors.Is(err, eventstore.ErrUnavailable) {
				t.Errorf("Open of a database file of %d bytes: err = %v, a passing outage; expected a refusal", size, err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != size {
				t.Errorf("after the refused Open the database file is %v (%v); expected it left at %d bytes", fi, err, size)
			}
		})
	}
}

// TestAWALWithoutItsDatabaseFileIsRefused: with tributary.db gone and its
// tributary.db-wal left (a restore of the database file alone, `rm` of the
// file alone after a crash), a new database file was made beside the old
// WAL, whose pages SQLite then laid over it. A new log is made only where
// neither is there.
func TestAWALWithoutItsDatabaseFileIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	wal, err := os.ReadFile(s.Path() + "-wal") // the commits since the last checkpoint, as a crash leaves them
	if err != nil || len(wal) == 0 {
		t.Fatalf("read the WAL of an open store: %d bytes, %v", len(wal), err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path()+"-wal", wal, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		t.Fatal("Open of a directory holding a WAL but no database file succeeded; expected it refused")
	}
	if !strings.Contains(err.Error(), "-wal") {
		t.Errorf("Open of a directory holding a WAL but no database file: expected an error naming the WAL, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlitestore.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after the refused Open: expected no database file made, stat says %v", err)
	}
}

// TestANewDatabaseFileHasItsHeaderFromTheStart: a new log is made where
// there is no database file; its file must never be seen empty (a crash
// while it was made would otherwise leave an empty file, which the next
// start refuses), and a store stopped before its first migration must
// start again.
func TestANewDatabaseFileHasItsHeaderFromTheStart(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new")
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open of a new data directory: %v", err)
	}
	b, err := os.ReadFile(s.Path())
	if err != nil || len(b) < 100 || !bytes.HasPrefix(b, []byte("SQLite format 3\x00")) {
		t.Errorf("a new database file, once Open returned: %d bytes starting %q (%v); expected an SQLite header", len(b), b[:min(len(b), 16)], err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlitestore.Open(context.Background(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open again of a new, never migrated store: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 4 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("a new data directory holds %q; expected the database, its -wal and -shm and the lock file", names)
	}
}

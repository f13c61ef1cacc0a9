package sqlitestore_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
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

// TestAWorldReadableLogFileIsWarnedOfOnceAndLeftAsItIs: a log made before
// its files were made 0640 is 0644, readable by every local user, and was
// served so without a word. A start warns once, naming the file and its
// mode, and changes nothing (the operator owns its permissions); a log of
// 0640 is not warned of.
func TestAWorldReadableLogFileIsWarnedOfOnceAndLeftAsItIs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	open := func() string {
		t.Helper()
		var logs testlog.Buffer
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	path := filepath.Join(dir, sqlitestore.FileName)
	if logs := open(); strings.Contains(logs, "readable by every user") {
		t.Errorf("a new log (0640) was warned of as readable by every user:\n%s", logs)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	logs := open()
	if n := strings.Count(logs, "readable by every user"); n != 1 || !strings.Contains(logs, path) || !strings.Contains(logs, "0644") ||
		!strings.Contains(logs, "a copy made under umask 022") {
		t.Errorf("a start on a log of mode 0644 logged (%d warnings of it):\n%s\nwant one WARN line naming %s and its mode 0644, and a copy made under umask 022 among its causes", n, logs, path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the log's mode after the start: %v, %v; want it left 0644", fi, err)
	}
}

package sqlitestore_test

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestADataDirectoryWhoseParentIsMissingIsRefusedNotMade: the store made
// the whole path of a missing data directory (mkdir -p) and a new, empty
// log in it, saying so only at INFO: a volume not mounted yet at boot, or
// a typo in TRIBUTARY_DATA_DIR, gave a ready server handing out positions
// 1, 2, … again, and two logs once the volume came back. A data directory
// whose parent is missing is now refused, naming it and saying to create
// it, and nothing is made.
func TestADataDirectoryWhoseParentIsMissingIsRefusedNotMade(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "newlog", "x", "y")
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		s.Close()
	}
	for _, want := range []string{dir, "does not exist", "mounted", "create it"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open in %s, whose parent is missing: %v; want an error holding %q", dir, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "newlog")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in %s, whose parent is missing, made %s (%v); want nothing made", dir, filepath.Join(root, "newlog"), err)
	}
}

// TestADataDirectoryLinkedToNothingIsRefusedSayingSo: a data directory
// that is a symbolic link to a directory not there (a volume not mounted
// behind it) failed on the lock file with the system's words alone. It is
// refused naming the link's target, asking whether a volume is mounted.
func TestADataDirectoryLinkedToNothingIsRefusedSayingSo(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir, target := filepath.Join(root, "data"), filepath.Join(root, "volume", "data")
	if err := os.Symlink(target, dir); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		s.Close()
	}
	for _, want := range []string{dir, target, "does not exist", "mounted"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open in %s, a link to %s that is not there: %v; want an error holding %q", dir, target, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "volume")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open in %s, a link to %s that is not there, made %s (%v); want nothing made", dir, target, filepath.Join(root, "volume"), err)
	}
}

// TestANewEmptyLogIsLoggedAtWarn: a new, empty database file, made where
// there was none, was said only by the INFO lines of the migrations and of
// the store being ready: an operator who expected a log there (a volume
// not mounted, a typo in the path) had no line to see. A data directory
// whose parent exists is still made (`go run ./cmd/api`'s ./data on a
// first run), and the new log is said at WARN, naming its path; a start on
// the log made so says nothing of it.
func TestANewEmptyLogIsLoggedAtWarn(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	open := func() string {
		t.Helper()
		var logs testlog.Buffer
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("Open in %s, whose parent exists: %v", dir, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	path := filepath.Join(dir, sqlitestore.FileName)
	first := open()
	if !strings.Contains(first, "level=WARN") || !strings.Contains(first, "no log found; a new one was created") || !strings.Contains(first, path) {
		t.Errorf("the first Open in %s logged:\n%s\nwant a WARN line saying no log was found and a new one was created at %s", dir, first, path)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o750 {
		t.Errorf("the data directory made: %v, %v; want one with mode 0750", fi, err)
	}
	if second := open(); strings.Contains(second, "a new one was created") {
		t.Errorf("the second Open in %s logged:\n%s\nwant nothing of a new log", dir, second)
	}
}

// TestAnEmptyDataDirectoryThatExistedIsNamedInTheNewLogsWarning: a data
// directory that was there but held no log (a mount point whose volume is
// not mounted, an empty directory a package made) began a new log with the
// same WARN as a directory made on a first run, which did not say that the
// directory had been there, empty. The line names the directory, says no
// log was found there and a new one was created, and asks whether a volume
// is meant to be mounted on it.
func TestAnEmptyDataDirectoryThatExistedIsNamedInTheNewLogsWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir() // there, empty: a mount point with nothing mounted
	var logs testlog.Buffer
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open in the empty directory %s: %v", dir, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "no log found") {
			line = l
		}
	}
	for _, want := range []string{"the data directory " + dir + " existed", "no log found; a new one was created", "mount", filepath.Join(dir, sqlitestore.FileName)} {
		if !strings.Contains(line, want) {
			t.Errorf("Open in the empty directory %s logged:\n%s\nwant a WARN line holding %q", dir, logs.String(), want)
		}
	}
}

// TestAMigrationThatMakesANewLogWarnsWithoutAServerToStop: `api migrate`
// (MigrateOnly) in a directory with no log makes a new one, and warned as a
// server's start does, "stop the server now", where no server runs. It
// warns once, naming the file, and says to start no server on it where a
// log was expected, as the MySQL store's migration does.
func TestAMigrationThatMakesANewLogWarnsWithoutAServerToStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs testlog.Buffer
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), MigrateOnly: true})
	if err != nil {
		t.Fatalf("Open in %s for a migration: %v", dir, err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var warned []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, "no log found") {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 || !strings.Contains(warned[0], filepath.Join(dir, sqlitestore.FileName)) ||
		strings.Contains(warned[0], "stop the server") || !strings.Contains(warned[0], "start no server on it") {
		t.Errorf("a migration in %s, which held no log, logged:\n%s\nwant one WARN line saying no log was found, naming %s, "+
			"and to start no server on it (not to stop a server: none runs)", dir, logs.String(), filepath.Join(dir, sqlitestore.FileName))
	}
}

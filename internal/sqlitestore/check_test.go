package sqlitestore_test

import (
	"bytes"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// damagePage writes garbage over a leaf page of index in the database file
// at path, as a disk or a copy might, keeping the file's time, and returns
// the page's number.
func damagePage(t *testing.T, path, index string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var page, size int64
	err = db.QueryRow("SELECT pageno, pgsize FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno LIMIT 1", index).Scan(&page, &size)
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatalf("find a leaf page of %s: %v", index, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	garbage := bytes.Repeat([]byte{0xA5, 0x17, 0x00, 0xFF}, int(size)/4)
	_, err = f.WriteAt(garbage, (page-1)*size)
	if err := errors.Join(err, f.Close(), os.Chtimes(path, fi.ModTime(), fi.ModTime())); err != nil {
		t.Fatal(err)
	}
	return page
}

// TestADamagedPageIsFoundAtStartUpAfterAnUncleanStopOrACopy: start-up read
// the schema and the log's head, not the rest: a page of an index written
// over (a torn write, a bad copy or restore) was served until a read or an
// append came upon it, as a 500 or a wrong answer. After a stop that was
// not clean (a crash, kill -9: the lock file holds the pid), and for a file
// that is not the one this store stopped cleanly (copied or restored into
// place), start-up must check every page and refuse a damaged file.
func TestADamagedPageIsFoundAtStartUpAfterAnUncleanStopOrACopy(t *testing.T) {
	t.Parallel()
	cases := map[string]func(t *testing.T, dir string) string{
		// The damaged file copied into a new data directory, as a restore.
		"a copy": func(t *testing.T, dir string) string {
			b, err := os.ReadFile(filepath.Join(dir, sqlitestore.FileName))
			if err != nil {
				t.Fatal(err)
			}
			other := t.TempDir()
			if err := os.WriteFile(filepath.Join(other, sqlitestore.FileName), b, 0o644); err != nil {
				t.Fatal(err)
			}
			return other
		},
		// The file in place, its time kept, after a crash: the lock file
		// holds the pid of a process that did not stop cleanly.
		"an unclean stop": func(t *testing.T, dir string) string {
			if err := os.WriteFile(filepath.Join(dir, "tributary.lock"), []byte("12345\n"), 0o640); err != nil {
				t.Fatal(err)
			}
			return dir
		},
	}
	for name, where := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := storeWithEvents(t, 600)
			page := damagePage(t, filepath.Join(dir, sqlitestore.FileName), "events_event_type_position")
			dir = where(t, dir)
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open of a database file whose page %d (an index leaf) is garbage, after %s: succeeded; expected it refused as damaged", page, name)
			}
			if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "backup") {
				t.Errorf("Open of a database file with a damaged page after %s: expected an error saying it is damaged and to restore it from a backup, got %v", name, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestTheStartUpCheckRunsOnlyWhenTheLastStopWasNotClean: the check reads
// the whole file (0.7 to 2.5 s for a million events, see docs/reliability.md),
// so a start after a clean stop of the same file skips it, and a start
// after an unclean one runs it.
func TestTheStartUpCheckRunsOnlyWhenTheLastStopWasNotClean(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 3)
	open := func() string {
		t.Helper()
		var logs testlog.Buffer
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Head(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return logs.String()
	}
	if logs := open(); strings.Contains(logs, "quick_check") {
		t.Errorf("a start after a clean stop of the same file checked it; expected no check, logged:\n%s", logs)
	}
	if err := os.WriteFile(filepath.Join(dir, "tributary.lock"), []byte("12345\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if logs := open(); !strings.Contains(logs, "quick_check") {
		t.Errorf("a start after an unclean stop did not check the file; expected a log line naming quick_check, logged:\n%s", logs)
	}
	if logs := open(); strings.Contains(logs, "quick_check") {
		t.Errorf("a start after the clean stop that followed a check checked it again; expected no check, logged:\n%s", logs)
	}
}

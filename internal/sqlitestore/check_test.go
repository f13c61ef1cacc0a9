package sqlitestore_test

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
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
	damageAt(t, path, page, size)
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

// damageAt writes garbage over page (numbered from 1) of the database file
// at path, keeping the file's time and size, as bit rot would.
func damageAt(t *testing.T, path string, page, size int64) {
	t.Helper()
	writeAt(t, path, (page-1)*size, bytes.Repeat([]byte{0xA5, 0x17, 0x00, 0xFF}, int(size)/4))
}

// setByte sets the byte at offset of the database file at path to b,
// keeping the file's time and size, as bit rot would.
func setByte(t *testing.T, path string, offset int64, b byte) {
	t.Helper()
	writeAt(t, path, offset, []byte{b})
}

// setByteInEvent sets the byte at offset from the start of marker, which
// the database file in dir must hold once (an event's data or metadata), to
// b: bit rot inside one event.
func setByteInEvent(t *testing.T, dir, marker string, offset int, b byte) {
	t.Helper()
	path := filepath.Join(dir, sqlitestore.FileName)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(content, []byte(marker)); n != 1 {
		t.Fatalf("the marker is %d times in the file; expected once", n)
	}
	setByte(t, path, int64(bytes.Index(content, []byte(marker))+offset), b)
}

// writeAt writes b at offset of the database file at path, keeping the
// file's time (and, within it, its size): the one way these tests damage
// a file.
func writeAt(t *testing.T, path string, offset int64, b []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt(b, offset)
	if err := errors.Join(err, f.Close(), os.Chtimes(path, fi.ModTime(), fi.ModTime())); err != nil {
		t.Fatal(err)
	}
}

// cellAt returns where cell i of page (not page 1) of the database file at
// path begins in the page.
func cellAt(t *testing.T, path string, page, size int64, i int) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := b[(page-1)*size:]
	hdr := 8
	if p[0] == 2 || p[0] == 5 {
		hdr = 12
	}
	return int64(binary.BigEndian.Uint16(p[hdr+2*i:]))
}

// pageOf returns the number and size of the page of the b-tree name that
// dbstat lists after skip others in the order given (e.g. "path DESC", 0
// for the last of the deepest), among pages of kind ("leaf", "internal").
func pageOf(t *testing.T, path, name, kind, order string, skip int) (page, size int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	err = db.QueryRow("SELECT pageno, pgsize FROM dbstat WHERE name = ? AND pagetype = ? ORDER BY "+order+" LIMIT 1 OFFSET ?", name, kind, skip).Scan(&page, &size)
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatalf("find a %s page of %s: %v", kind, name, err)
	}
	return page, size
}

// TestADamagedFileIsFoundAtAStartAfterACleanStop: after a clean stop of the
// same file, start-up checked nothing but the file's identity, size and
// time (the full check reads every page, seconds a million events): a page
// gone bad at rest (bit rot, a disk's or a controller's fault) was served
// until a read or an append came upon it, as a 500, and the last page of
// the log, where the next append writes and where every subscriber reads,
// is the one most read. Every start must read the header and, for every
// table and index, the pages from its root to its first and its last rows,
// and refuse a file damaged there.
func TestADamagedFileIsFoundAtAStartAfterACleanStop(t *testing.T) {
	t.Parallel()
	cases := map[string]func(t *testing.T, path string){
		"the last leaf of the events table": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "events", "leaf", "path DESC", 0)
			damageAt(t, path, page, size)
		},
		"the first leaf of an index": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "events_event_type_position", "leaf", "path", 0)
			damageAt(t, path, page, size)
		},
		"the root of the events table": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "events", "internal", "path", 0)
			damageAt(t, path, page, size)
		},
		// One byte: a table's root, a leaf, made an index's leaf; SQLite
		// refuses a b-tree of the kind its schema does not say.
		"the kind of a table's root page": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "log_head", "leaf", "path", 0)
			setByte(t, path, (page-1)*size, 10)
		},
		"the kind of an index's root page": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "streams_type_id", "leaf", "path", 0)
			setByte(t, path, (page-1)*size, 13)
		},
		// A leaf below the root that says it holds no cells, which SQLite
		// refuses: the last of an index, where the next append writes.
		"the cell count of an index's last leaf": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "events_event_type_position", "leaf", "path DESC", 0)
			setByte(t, path, (page-1)*size+3, 0)
			setByte(t, path, (page-1)*size+4, 0)
		},
		// The payload size of a cell gone bad, its pointer kept: the cell
		// then runs over the next one, or past the page.
		"the size of a cell of an index's last leaf": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "events_event_type_position", "leaf", "path DESC", 0)
			setByte(t, path, (page-1)*size+cellAt(t, path, page, size, 0), 0x7f)
		},
		"the size of the first cell of the log's last leaf": func(t *testing.T, path string) {
			page, size := pageOf(t, path, "events", "leaf", "path DESC", 0)
			setByte(t, path, (page-1)*size+cellAt(t, path, page, size, 0), 0x7f)
		},
		// The header's page count one short of the file's: SQLite takes it
		// and the last page is cut off.
		"the header's page count": func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			writeAt(t, path, 28, binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(b[28:32])-1))
		},
		// The header's auto-vacuum fields, which SQLite reads as it opens
		// the file: a largest root page where there is none (auto-vacuum
		// off), and incremental vacuum without it.
		"the header's largest root page":  func(t *testing.T, path string) { setByte(t, path, 55, 3) },
		"the header's incremental vacuum": func(t *testing.T, path string) { setByte(t, path, 67, 1) },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := storeWithEvents(t, 600) // stopped cleanly
			damage(t, filepath.Join(dir, sqlitestore.FileName))
			var logs testlog.Buffer
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err == nil {
				s.Close()
				t.Fatalf("Open after a clean stop of a database file damaged at rest in %s: succeeded; expected it refused as damaged", name)
			}
			if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "backup") {
				t.Errorf("Open after a clean stop of a database file damaged in %s: expected an error saying it is damaged and to restore it from a backup, got %v", name, err)
			}
			t.Logf("refused: %v\nlogged:\n%s", err, logs.String())
		})
	}
}

// TestAStartAfterACleanStopFindsNothingWrongWithAHealthyFile: the look a
// start takes at a file stopped cleanly must never take a healthy one for
// damaged (each start would then read every page): logs of every shape,
// from none to b-trees three pages deep, events whose data takes overflow
// pages, streams appended to again and again.
func TestAStartAfterACleanStopFindsNothingWrongWithAHealthyFile(t *testing.T) {
	t.Parallel()
	shapes := map[string]func(t *testing.T, s *sqlitestore.Store){
		"no schema":  nil,
		"no events":  func(*testing.T, *sqlitestore.Store) {},
		"one event":  func(t *testing.T, s *sqlitestore.Store) { appendEvents(t, s, uuid.New(), 1, 10) },
		"large data": func(t *testing.T, s *sqlitestore.Store) { appendEvents(t, s, uuid.New(), 20, 70_000) },
		"many streams and appends": func(t *testing.T, s *sqlitestore.Store) {
			streams := make([]uuid.UUID, 40)
			for i := range streams {
				streams[i] = uuid.New()
			}
			for i := range 400 {
				appendEvents(t, s, streams[i%len(streams)], 1+i%7, 10+(i*37)%3000)
			}
		},
	}
	for name, fill := range shapes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if fill != nil {
				if err := s.Migrate(t.Context()); err != nil {
					s.Close()
					t.Fatal(err)
				}
				fill(t, s)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var logs testlog.Buffer
			s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("a start after a clean stop of a healthy file (%s): %v", name, err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), "quick_check") {
				t.Errorf("a start after a clean stop of a healthy file (%s) took it for damaged, and checked every page; logged:\n%s", name, logs.String())
			}
		})
	}
}

// openMigrated opens the store in dir and migrates it, or fails the test;
// closing it is the test's.
func openMigrated(t *testing.T, dir string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		s.Close()
		t.Fatal(err)
	}
	return s
}

// appendEvents appends n events of about size bytes of data each to stream.
func appendEvents(t *testing.T, s *sqlitestore.Store, stream uuid.UUID, n, size int) {
	t.Helper()
	events := make([]eventstore.NewEvent, n)
	for i := range events {
		events[i] = eventstore.NewEvent{Type: "Happened", Data: []byte(`"` + strings.Repeat("d", size) + `"`), Metadata: []byte(`{"n":1}`)}
	}
	if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: events}); err != nil {
		t.Fatal(err)
	}
}

// TestTouchingTheDatabaseFileAsksTheNextStartToCheckEveryPage: the README's
// way to have a start after a clean stop run the full check: a new
// modification time (touch tributary.db) makes the file another than the
// one the store stopped cleanly.
func TestTouchingTheDatabaseFileAsksTheNextStartToCheckEveryPage(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 3)
	path := filepath.Join(dir, sqlitestore.FileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "quick_check") || !strings.Contains(logs.String(), "database file checked") {
		t.Errorf("a start after a clean stop and a touch of the file did not check every page; expected log lines naming quick_check, logged:\n%s", logs.String())
	}
}

// TestAWALBesideAFileStoppedCleanlyAsksForTheFullCheck: a clean stop leaves
// no WAL, so a start that finds the file as the store stopped it reads only
// a few of its pages, from the file. A WAL with commits found beside it
// since (one restored with an older copy, or left by another program that
// wrote the file and was killed) holds pages SQLite reads in place of the
// file's, which that look never sees: a page gone bad there was served,
// until a read came upon it. The start must check every page, through
// SQLite, and refuse such a file.
func TestAWALBesideAFileStoppedCleanlyAsksForTheFullCheck(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 600) // stopped cleanly
	path := filepath.Join(dir, sqlitestore.FileName)
	page, size := pageOf(t, path, "events", "leaf", "path", 1)

	// The same file, in another directory, written by another program:
	// a page of it replaced with garbage, through SQLite, so that the WAL
	// holds it as a commit, copied while that program still has it open
	// (killed, it would have left it so).
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), sqlitestore.FileName)
	if err := os.WriteFile(other, b, 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+other+"?_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("UPDATE sqlite_dbpage SET data = ? WHERE pgno = ?",
		bytes.Repeat([]byte{0xA5, 0x17, 0x00, 0xFF}, int(size)/4), page); err != nil {
		t.Fatalf("write garbage over page %d through sqlite_dbpage: %v", page, err)
	}
	wal, err := os.ReadFile(other + "-wal")
	if err != nil || len(wal) == 0 {
		t.Fatalf("the other program's WAL: %d bytes, %v; expected its commit", len(wal), err)
	}
	if err := os.WriteFile(path+"-wal", wal, 0o644); err != nil {
		t.Fatal(err)
	}

	var logs testlog.Buffer
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err == nil {
		_, rerr := s.ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 1000})
		s.Close()
		t.Fatalf("Open of a file stopped cleanly, with a WAL beside it whose commit writes garbage over page %d: succeeded "+
			"(then a read of the log: %v); expected the full check to refuse it as damaged; logged:\n%s", page, rerr, logs.String())
	}
	if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "backup") {
		t.Errorf("Open of a file stopped cleanly, with a damaging WAL beside it: %v; expected it refused as damaged, saying to restore from a backup", err)
	}
	if !strings.Contains(logs.String(), "quick_check") {
		t.Errorf("Open of a file stopped cleanly, with a WAL beside it: expected a log line naming quick_check, logged:\n%s", logs.String())
	}
}

package sqlitestore_test

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// emptyDatabase writes at path an empty database file, as SQLite makes one,
// of pages of size bytes with reserved bytes at the end of each (header
// byte 20, which no PRAGMA sets: an encryption or checksum extension's).
func emptyDatabase(t *testing.T, path string, size, reserved int) {
	t.Helper()
	b := make([]byte, size)
	copy(b, "SQLite format 3\x00")
	binary.BigEndian.PutUint16(b[16:], uint16(size)) // 65536 is written 1
	if size == 65536 {
		binary.BigEndian.PutUint16(b[16:], 1)
	}
	b[18], b[19], b[20], b[21], b[22], b[23] = 1, 1, byte(reserved), 64, 32, 32
	binary.BigEndian.PutUint32(b[24:], 1) // the change counter
	binary.BigEndian.PutUint32(b[28:], 1) // pages
	binary.BigEndian.PutUint32(b[44:], 4) // the schema format
	binary.BigEndian.PutUint32(b[56:], 1) // UTF-8
	binary.BigEndian.PutUint32(b[92:], 1) // the page count is valid
	binary.BigEndian.PutUint32(b[96:], 3045000)
	b[100] = 13                                                // a table leaf, no cells
	binary.BigEndian.PutUint16(b[105:], uint16(size-reserved)) // its cells begin at the end
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// prepareDatabase makes the database file in dir with the statements given
// (page size, auto_vacuum) run before its first table, in rollback mode as
// SQLite needs for them, then in WAL mode as the store runs it.
func prepareDatabase(t *testing.T, dir string, pragmas ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlitestore.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range append(pragmas, "CREATE TABLE prepared (x)", "DROP TABLE prepared", "PRAGMA journal_mode = WAL") {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestAStartAfterACleanStopFindsNothingWrongWithAHealthyFileOfAnyShape: the
// look a start takes at a file stopped cleanly reads bytes SQLite wrote as
// SQLite reads them. A healthy file it took for damaged costs a full
// quick_check at every start (minutes on a large file): it must pass files
// of every shape SQLite writes: every page size, pages with reserved bytes,
// auto_vacuum's pointer-map pages, free pages, a file after VACUUM, many
// indexes, a WITHOUT ROWID table of many rows, events over many overflow
// pages, b-trees many pages deep.
func TestAStartAfterACleanStopFindsNothingWrongWithAHealthyFileOfAnyShape(t *testing.T) {
	t.Parallel()
	type shape struct {
		prepare func(t *testing.T, dir string)
		fill    func(t *testing.T, s *sqlitestore.Store)
	}
	exec := func(t *testing.T, s *sqlitestore.Store, qs ...string) {
		t.Helper()
		for _, q := range qs {
			if err := s.Exec(t.Context(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	pageSize := func(n int, more ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			prepareDatabase(t, dir, append([]string{fmt.Sprintf("PRAGMA page_size = %d", n)}, more...)...)
		}
	}
	reserved := func(size, n int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			emptyDatabase(t, filepath.Join(dir, sqlitestore.FileName), size, n)
			prepareDatabase(t, dir)
		}
	}
	// events of every size, from a few bytes to several overflow pages.
	mixed := func(t *testing.T, s *sqlitestore.Store) {
		streams := make([]uuid.UUID, 30)
		for i := range streams {
			streams[i] = uuid.New()
		}
		for i := range 300 {
			appendEvents(t, s, streams[i%len(streams)], 1+i%5, 10+(i*577)%5000)
		}
	}
	// events taken out again, which leaves free pages (the store never
	// deletes, an operator may).
	freed := func(t *testing.T, s *sqlitestore.Store) {
		mixed(t, s)
		exec(t, s, "DELETE FROM events WHERE position % 3 = 0 OR position < 200")
	}
	shapes := map[string]shape{
		"pages of 512 bytes":                             {pageSize(512), mixed},
		"pages of 1024 bytes":                            {pageSize(1024), mixed},
		"pages of 8192 bytes":                            {pageSize(8192), mixed},
		"pages of 65536 bytes":                           {pageSize(65536), mixed},
		"pages of 65536 bytes with one event":            {pageSize(65536), func(t *testing.T, s *sqlitestore.Store) { appendEvents(t, s, uuid.New(), 1, 10) }},
		"pages of 65536 bytes with no events":            {pageSize(65536), func(*testing.T, *sqlitestore.Store) {}},
		"pages of 512 bytes and events of 1 MiB":         {pageSize(512), func(t *testing.T, s *sqlitestore.Store) { appendEvents(t, s, uuid.New(), 3, 1<<20-100) }},
		"auto_vacuum full and free pages":                {pageSize(1024, "PRAGMA auto_vacuum = FULL"), freed},
		"auto_vacuum incremental and free pages":         {pageSize(1024, "PRAGMA auto_vacuum = INCREMENTAL"), freed},
		"auto_vacuum incremental, partly vacuumed":       {pageSize(1024, "PRAGMA auto_vacuum = INCREMENTAL"), func(t *testing.T, s *sqlitestore.Store) { freed(t, s); exec(t, s, "PRAGMA incremental_vacuum(10)") }},
		"free pages":                                     {pageSize(1024), freed},
		"free pages then VACUUM":                         {pageSize(1024), func(t *testing.T, s *sqlitestore.Store) { freed(t, s); exec(t, s, "VACUUM") }},
		"8 reserved bytes a page of 512":                 {reserved(512, 8), mixed},
		"32 reserved bytes a page of 512":                {reserved(512, 32), mixed},
		"255 reserved bytes a page of 4096":              {reserved(4096, 255), mixed},
		"255 reserved bytes a page of 65536":             {reserved(65536, 255), mixed},
		"no rows in a page of 65536 with reserved bytes": {reserved(65536, 16), func(*testing.T, *sqlitestore.Store) {}},
		"many indexes": {pageSize(1024), func(t *testing.T, s *sqlitestore.Store) {
			mixed(t, s)
			for i := range 20 {
				exec(t, s, fmt.Sprintf("CREATE INDEX extra_%d ON events (event_type, stream_version, position %% %d, data)", i, i+2))
			}
		}},
		"a WITHOUT ROWID table of many rows": {pageSize(512), func(t *testing.T, s *sqlitestore.Store) {
			for range 600 {
				appendEvents(t, s, uuid.New(), 1, 10)
			}
		}},
		// Rows and index entries whose payload is a few bytes either side
		// of what a page of 1024 keeps of it (989 bytes in a table, 230 in
		// an index), each in a table of its own so that every one is read.
		"payloads at the bounds of what a page keeps": {pageSize(1024), func(t *testing.T, s *sqlitestore.Store) {
			for n := range 50 {
				size := 970 + n
				if n >= 25 {
					size = 185 + n
				}
				exec(t, s, fmt.Sprintf("CREATE TABLE bound_%d (x BLOB)", n), fmt.Sprintf("CREATE INDEX bound_%d_x ON bound_%d (x)", n, n),
					fmt.Sprintf("INSERT INTO bound_%d (x) VALUES (randomblob(%d))", n, size))
			}
		}},
		"an index whose entries take overflow pages": {pageSize(512), func(t *testing.T, s *sqlitestore.Store) {
			mixed(t, s)
			exec(t, s, "CREATE INDEX by_data ON events (data)")
		}},
	}
	for name, sh := range shapes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			sh.prepare(t, dir)
			s := openMigrated(t, dir)
			sh.fill(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var logs testlog.Buffer
			s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("a start after a clean stop of a healthy file (%s): %v", name, err)
			}
			defer s.Close()
			if err := s.Glance(t.Context()); err != nil {
				t.Errorf("the look at a healthy file (%s) found it damaged: %v", name, err)
			}
			if strings.Contains(logs.String(), "quick_check") {
				t.Errorf("a start after a clean stop of a healthy file (%s) took it for damaged, and checked every page; logged:\n%s", name, logs.String())
			}
			var size, free, vacuum int
			if err := errors.Join(s.QueryRow(t.Context(), "PRAGMA page_size", &size), s.QueryRow(t.Context(), "PRAGMA freelist_count", &free),
				s.QueryRow(t.Context(), "PRAGMA auto_vacuum", &vacuum)); err != nil {
				t.Fatal(err)
			}
			h := make([]byte, 100)
			if f, err := os.Open(s.Path()); err == nil {
				_, err = f.ReadAt(h, 0)
				f.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("pages of %d bytes, %d reserved, %d free, auto_vacuum %d", size, h[20], free, vacuum)
			var problems string
			if err := s.QueryRow(t.Context(), "PRAGMA quick_check", &problems); err != nil || problems != "ok" {
				t.Errorf("the file (%s) is not healthy to begin with: quick_check says %q, %v", name, problems, err)
			}
		})
	}
}

// TestADamagedFreeListIsFoundAtAStartAfterACleanStop: the free pages (an
// operator's DELETE, a migration's dropped column leaves some) are where
// SQLite takes the next page an append needs, from the first page of the
// free list, its trunk. A trunk gone bad at rest was served after a clean
// stop, and appends then failed as the database being malformed (a 500),
// each that needed a page. A start must read the free list's head and its
// first trunk page, and refuse a file damaged there.
func TestADamagedFreeListIsFoundAtAStartAfterACleanStop(t *testing.T) {
	t.Parallel()
	cases := map[string]func(h []byte) (offset int64, b []byte){
		// Its count of leaf pages past what a page holds.
		"the first trunk page's count of leaves": func(h []byte) (int64, []byte) {
			return trunkOffset(h) + 4, []byte{0, 0, 0xff, 0xff}
		},
		// Its first leaf past the end of the file.
		"the first trunk page's first leaf": func(h []byte) (int64, []byte) {
			return trunkOffset(h) + 8, []byte{0x7f, 0xff, 0xff, 0xff}
		},
		// The header's free list beginning past the end of the file.
		"the header's first trunk page": func([]byte) (int64, []byte) {
			return 32, []byte{0x7f, 0xff, 0xff, 0xff}
		},
		// The header's count of free pages: none, with a trunk page.
		"the header's count of free pages": func([]byte) (int64, []byte) {
			return 36, []byte{0, 0, 0, 0}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openMigrated(t, dir)
			for range 20 {
				appendEvents(t, s, uuid.New(), 10, 2000)
			}
			if err := s.Exec(t.Context(), "DELETE FROM events WHERE position % 2 = 0"); err != nil {
				s.Close()
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, sqlitestore.FileName)
			h, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if binary.BigEndian.Uint32(h[36:]) == 0 {
				t.Fatal("no free pages to damage")
			}
			offset, b := damage(h)
			for i := range b {
				setByte(t, path, offset+int64(i), b[i])
			}
			s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
			if err == nil {
				_, aerr := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
					Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`"` + strings.Repeat("d", 20000) + `"`)}}})
				s.Close()
				t.Fatalf("Open after a clean stop of a database file damaged at rest in %s: succeeded (then an append that needs pages: %v); expected it refused as damaged", name, aerr)
			}
			if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "backup") {
				t.Errorf("Open after a clean stop of a database file damaged in %s: expected an error saying it is damaged and to restore it from a backup, got %v", name, err)
			}
		})
	}
}

// trunkOffset is where the first trunk page of the free list of the
// database file whose first page is h begins.
func trunkOffset(h []byte) int64 {
	size := int64(binary.BigEndian.Uint16(h[16:]))
	if size == 1 {
		size = 65536
	}
	return (int64(binary.BigEndian.Uint32(h[32:])) - 1) * size
}

// TestADamagedHeaderIsRefusedAsDamagedAtStartUp: header fields SQLite
// reads as it opens the file gone bad refused the start with SQLite's own
// words before any check of the store's ran: the page count past the
// file's end and the text encoding as "database disk image is malformed"
// (the second with the schema's names read as UTF-16), the page size and
// the payload fractions as "file is not a database", the schema format as
// "unsupported file format", and the write version as the database being
// read-only to this process, which sent the operator after permissions.
// Each must say the file is damaged and to restore it from a backup, as
// every other damage found at start-up does, after a clean stop and after
// one that was not.
func TestADamagedHeaderIsRefusedAsDamagedAtStartUp(t *testing.T) {
	t.Parallel()
	cases := map[string]func(h []byte) (offset int64, b []byte){
		"the page count past the file's end": func(h []byte) (int64, []byte) {
			return 28, binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(h[28:])+1)
		},
		"the text encoding":  func([]byte) (int64, []byte) { return 59, []byte{3} },
		"the page size":      func([]byte) (int64, []byte) { return 17, []byte{3} },
		"a payload fraction": func([]byte) (int64, []byte) { return 21, []byte{0} },
		"the schema format":  func([]byte) (int64, []byte) { return 47, []byte{0xff} },
		"the write version":  func([]byte) (int64, []byte) { return 18, []byte{3} },
		"the read version":   func([]byte) (int64, []byte) { return 19, []byte{3} },
		"the reserved bytes": func([]byte) (int64, []byte) { return 20, []byte{0xff} },
	}
	for name, damage := range cases {
		for _, clean := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, clean stop %v", name, clean), func(t *testing.T) {
				t.Parallel()
				dir := storeWithEvents(t, 50)
				path := filepath.Join(dir, sqlitestore.FileName)
				h, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				offset, b := damage(h)
				writeAt(t, path, offset, b)
				if !clean {
					if err := os.WriteFile(filepath.Join(dir, "tributary.lock"), []byte("12345\n"), 0o640); err != nil {
						t.Fatal(err)
					}
				}
				s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
				if err == nil {
					s.Close()
					t.Fatalf("Open of a database file whose header is damaged in %s: succeeded; expected it refused as damaged", name)
				}
				if !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "restore it from a backup") ||
					strings.Contains(err.Error(), "read-only") {
					t.Errorf("Open of a database file whose header is damaged in %s: %v; expected an error saying it is damaged and to restore it from a backup", name, err)
				}
				t.Logf("refused: %v", err)
			})
		}
	}
}

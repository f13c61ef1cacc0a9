package sqlitestore

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// countingReader counts the pages read through it.
type countingReader struct {
	r     io.ReaderAt
	reads int
}

func (c *countingReader) ReadAt(b []byte, off int64) (int, error) {
	c.reads++
	return c.r.ReadAt(b, off)
}

// fuzzSeed is a healthy database file of pages of size bytes, its b-trees a
// few pages deep, with an event whose data takes overflow pages: the shape
// of a log that mutations damage.
func fuzzSeed(f *testing.F, size int) []byte {
	f.Helper()
	return fileOf(f,
		fmt.Sprintf("PRAGMA page_size = %d", size),
		"CREATE TABLE events (position INTEGER PRIMARY KEY, event_type TEXT NOT NULL, data BLOB NOT NULL)",
		"CREATE INDEX events_event_type_position ON events (event_type, position)",
		"CREATE TABLE streams (stream_id BLOB NOT NULL PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60) "+
			"INSERT INTO events (event_type, data) SELECT 'Happened' || (i % 7), randomblob(1 + i * 3) FROM n",
		"INSERT INTO events (event_type, data) VALUES ('Large', randomblob(3000))",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "+
			"INSERT INTO streams (stream_id, version) SELECT randomblob(16), i FROM n",
		"DELETE FROM events WHERE position % 5 = 0",
	)
}

// fileOf returns the bytes of a new database file made by queries, run in
// order on one connection.
func fileOf(f *testing.F, queries ...string) []byte {
	f.Helper()
	path := filepath.Join(f.TempDir(), "seed.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range queries {
		if _, err := db.Exec(q); err != nil {
			f.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzWalk feeds damaged and hostile database files to the reader of
// SQLite's pages that a start after a clean stop runs: whatever the bytes,
// it must return, with an error or none, without a panic, and having read
// at most one page of the free list and maxDepth pages on its way down any
// b-tree.
func FuzzWalk(f *testing.F) {
	for _, size := range []int{512, 1024} {
		f.Add(fuzzSeed(f, size))
	}
	// Two pages, the second an interior table page whose children are
	// itself: a cycle.
	cycle := bytes.Clone(fuzzSeed(f, 512)[:1024])
	binary.BigEndian.PutUint32(cycle[28:], 2)
	copy(cycle[512:], []byte{5, 0, 0, 0, 1, 1, 0xfc, 0, 0, 0, 0, 2})
	binary.BigEndian.PutUint16(cycle[512+12:], 508)
	binary.BigEndian.PutUint32(cycle[1020:], 2)
	f.Add(cycle)
	// A few pages: a table two pages deep, and an index.
	f.Add(fileOf(f,
		"PRAGMA page_size = 512",
		"CREATE TABLE t (x BLOB)",
		"CREATE INDEX t_x ON t (x)",
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8) INSERT INTO t (x) SELECT randomblob(60) FROM n",
		"DELETE FROM t WHERE rowid = 3",
	))
	f.Fuzz(func(t *testing.T, file []byte) {
		r := &countingReader{r: bytes.NewReader(file)}
		p, err := readPages(r, int64(len(file)))
		if err != nil {
			return
		}
		if r.reads > 1 {
			t.Fatalf("the header took %d reads", r.reads)
		}
		r.reads = 0
		if err := p.freeList(); err == nil && p.free > 0 && r.reads != 1 || r.reads > 1 {
			t.Fatalf("the free list's head took %d reads, with %d free pages and no error", r.reads, p.free)
		}
		for root := uint32(1); root <= min(p.count, 32); root++ {
			for _, walk := range []struct{ table, last bool }{{true, false}, {true, true}, {false, false}, {false, true}} {
				r.reads = 0
				depth, err := p.walk(root, walk.table, walk.last)
				if r.reads > maxDepth {
					t.Fatalf("the walk from page %d read %d pages, more than %d", root, r.reads, maxDepth)
				}
				if err == nil && (depth < 0 || depth >= maxDepth) {
					t.Fatalf("the walk from page %d returned a depth of %d and no error", root, depth)
				}
				if err != nil && strings.TrimSpace(err.Error()) == "" {
					t.Fatalf("the walk from page %d returned an empty error", root)
				}
			}
		}
	})
}

// TestTheLookAtAFileStoppedCleanlyReadsAFewPagesWhateverItsSize: the look
// a start takes at a file stopped cleanly is what a start can afford: its
// walks read at most maxDepth pages each, two for each table and index,
// however many pages the file has.
func TestTheLookAtAFileStoppedCleanlyReadsAFewPagesWhateverItsSize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for _, q := range []string{"PRAGMA page_size = 512", "PRAGMA journal_mode = WAL"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	events := make([]eventstore.NewEvent, 100)
	for i := range events {
		events[i] = eventstore.NewEvent{Type: fmt.Sprintf("Happened%d", i%13), Data: []byte(`"` + strings.Repeat("d", 200) + `"`)}
	}
	for range 40 {
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: events}); err != nil {
			t.Fatal(err)
		}
	}
	var pages, trees int
	if err := errors.Join(s.feed.QueryRow("PRAGMA page_count").Scan(&pages),
		s.feed.QueryRow("SELECT 1 + count(*) FROM sqlite_schema WHERE rootpage > 0").Scan(&trees)); err != nil {
		t.Fatal(err)
	}
	// Every page written into the file, as a clean stop leaves it.
	if _, err := s.feed.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}
	fi, err := s.file.Stat()
	if err != nil {
		t.Fatal(err)
	}
	r := &countingReader{r: s.file}
	if err := s.glanceAt(t.Context(), r, fi.Size()); err != nil {
		t.Fatalf("the look at a healthy file of %d pages: %v", pages, err)
	}
	if most := 1 + 2*trees*maxDepth; r.reads > most || r.reads > pages/20 {
		t.Errorf("the look at a file of %d pages and %d b-trees read %d pages; expected at most %d, and a small part of the file", pages, trees, r.reads, most)
	}
	t.Logf("read %d pages of %d (%d b-trees)", r.reads, pages, trees)
}

// TestVarintsDecodeAsTheFileFormatSays: one to nine bytes, seven bits of
// each but the ninth, whose eight are all the value's; none past the page.
func TestVarintsDecodeAsTheFileFormatSays(t *testing.T) {
	t.Parallel()
	cases := []struct {
		b    []byte
		v    uint64
		n    int
		fail bool
	}{
		{b: []byte{0x00}, v: 0, n: 1},
		{b: []byte{0x7f, 0xff}, v: 127, n: 1},
		{b: []byte{0x81, 0x00}, v: 128, n: 2},
		{b: []byte{0x83, 0xff, 0x7f}, v: 0xffff, n: 3},
		{b: bytes.Repeat([]byte{0xff}, 9), v: 1<<64 - 1, n: 9},
		{b: append(bytes.Repeat([]byte{0x80}, 8), 0x01), v: 1, n: 9},
		{b: append(bytes.Repeat([]byte{0x81}, 8), 0x80, 0x00), v: 0x0204081020408180, n: 9},
		{b: []byte{0x81}, fail: true},
		{b: bytes.Repeat([]byte{0xff}, 8), fail: true},
	}
	for _, c := range cases {
		v, n, err := varint(c.b, 0)
		if c.fail {
			if err == nil {
				t.Errorf("varint(% x): %d in %d bytes; expected an error, the varint running past the page", c.b, v, n)
			}
			continue
		}
		if err != nil || v != c.v || n != c.n {
			t.Errorf("varint(% x): %d in %d bytes (%v); expected %d in %d", c.b, v, n, err, c.v, c.n)
		}
	}
}

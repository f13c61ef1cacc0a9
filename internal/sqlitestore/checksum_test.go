package sqlitestore_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAFlippedDigitInAnEventsJSONIsFoundByEveryRead: bit rot that leaves an
// event's data or metadata JSON in UTF-8 ("amount":100 read as
// "amount":108) passed the check that they are, and was served with a 200
// as the event an append took: a system of record silently wrong. Every
// read that hands the event out must fail as on a damaged file: a page of
// the log, of the stream, the event alone, and the live feed's read.
func TestAFlippedDigitInAnEventsJSONIsFoundByEveryRead(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"data", "metadata"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			const marker = `"MARKER-0123456789","amount":100`
			dir := t.TempDir()
			s := openMigrated(t, dir)
			stream := uuid.New()
			appendEvents(t, s, stream, 5, 100)
			e := eventstore.NewEvent{Type: "Paid", Data: []byte(`{"a":"x"}`), Metadata: []byte(`{"n":1}`)}
			if where == "data" {
				e.Data = []byte(`{"m":` + marker + `}`)
			} else {
				e.Metadata = []byte(`{"m":` + marker + `}`)
			}
			if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: []eventstore.NewEvent{e}}); err != nil {
				t.Fatal(err)
			}
			appendEvents(t, s, stream, 5, 100)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			setByteInEvent(t, dir, marker, len(marker)-1, '8') // 100 → 108: still JSON

			expectEveryReadFails(t, dir, stream, 6, "a digit flipped in an event's "+where)
		})
	}
}

// TestEventsStoredBeforeChecksumsReadBackAsTheyWere: events a file held
// before the store kept a checksum of each (the column NULL) are read back
// byte for byte by every read, and never called damaged, however unusual
// their JSON, beside events stored with one.
func TestEventsStoredBeforeChecksumsReadBackAsTheyWere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	stream := uuid.New()
	var want []eventstore.NewEvent
	for i, d := range []string{`-1e400`, `{"a":1,"a":2}`, "\"😀 \\ud800 \u2028\"", " [ true ] \n", `null`} {
		e := eventstore.NewEvent{Type: "Old", Data: []byte(d)}
		if i%2 == 0 {
			e.Metadata = []byte(`{"n":18446744073709551616}`)
		}
		want = append(want, e)
	}
	if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: want}); err != nil {
		t.Fatal(err)
	}
	forgetChecksums(t, s)
	more := []eventstore.NewEvent{{Type: "New", Data: []byte(`{"b":2}`), Metadata: []byte(`{}`)}}
	if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: more}); err != nil {
		t.Fatal(err)
	}
	want = append(want, more...)

	check := func(how string, got []eventstore.Event) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d events; expected %d", how, len(got), len(want))
		}
		for i, e := range got {
			if e.Type != want[i].Type || !bytes.Equal(e.Data, want[i].Data) || !bytes.Equal(e.Metadata, want[i].Metadata) {
				t.Errorf("%s: event %d is %s %q %q; expected %s %q %q", how, i+1, e.Type, e.Data, e.Metadata, want[i].Type, want[i].Data, want[i].Metadata)
			}
		}
	}
	collect := func(how string, events func(yield func(eventstore.Event, error) bool)) []eventstore.Event {
		t.Helper()
		var out []eventstore.Event
		for e, err := range events {
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			out = append(out, e)
		}
		return out
	}
	log, err := s.ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 100})
	if err != nil {
		t.Fatalf("read of the log: %v", err)
	}
	check("read of the log", collect("read of the log", log.Events))
	page, err := s.ReadStream(t.Context(), stream, eventstore.ReadStreamOptions{Limit: 100})
	if err != nil {
		t.Fatalf("read of the stream: %v", err)
	}
	check("read of the stream", collect("read of the stream", page.Events))
	tail, err := s.Tail().ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 100})
	if err != nil {
		t.Fatalf("the live feed's read: %v", err)
	}
	check("the live feed's read", collect("the live feed's read", tail.Events))
	var one []eventstore.Event
	for v := range int64(len(want)) {
		e, err := s.Event(t.Context(), stream, v+1)
		if err != nil {
			t.Fatalf("read of event %d: %v", v+1, err)
		}
		one = append(one, e)
	}
	check("reads of each event", one)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after reading events stored before checksums: %v; expected the store ready", err)
	}
}

// forgetChecksums makes the events in s as a file migrated from before the
// store kept a checksum of each holds them (the column NULL), and rebuilds
// the file, so that no copy of a row from before is left in its free space.
func forgetChecksums(t *testing.T, s *sqlitestore.Store) {
	t.Helper()
	for _, q := range []string{"UPDATE events SET checksum = NULL", "VACUUM"} {
		if err := s.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n int
	if err := s.QueryRow(t.Context(), "SELECT COUNT(*) FROM events WHERE checksum IS NOT NULL", &n); err != nil || n != 0 {
		t.Fatalf("events with a checksum left: %d, %v", n, err)
	}
}

// TestTheChecksumMigrationRewritesNoRowAndOldEventsStillRead: the
// migration that adds events.checksum must be cheap on a large file: it
// changes the schema, not a page of the events table (SQLite reads the
// column of a row stored without it as NULL). A file from before it, its
// rows without the column, migrates, and its events read back, checked as
// JSON; the first append after it is stored with its checksum.
func TestTheChecksumMigrationRewritesNoRowAndOldEventsStillRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	stream := uuid.New()
	for range 10 {
		appendEvents(t, s, stream, 100, 200)
	}
	// The file as the release before wrote it: no column, migration 12 not
	// recorded, and every page laid out afresh.
	for _, q := range []string{"ALTER TABLE events DROP COLUMN checksum",
		"DELETE FROM " + migrations.VersionTable + " WHERE version_id = 12", "VACUUM"} {
		if err := s.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, sqlitestore.FileName)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	s = openMigrated(t, dir)
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	var pageSize int
	if err := s.QueryRow(t.Context(), "PRAGMA page_size", &pageSize); err != nil {
		t.Fatal(err)
	}
	var nulls int
	if err := s.QueryRow(t.Context(), "SELECT COUNT(*) FROM events WHERE checksum IS NULL", &nulls); err != nil || nulls != 1000 {
		t.Fatalf("events without a checksum after the migration: %d, %v; expected the 1000 stored before it", nulls, err)
	}
	page, err := s.ReadStream(t.Context(), stream, eventstore.ReadStreamOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range page.Events {
		if err != nil {
			t.Fatalf("read of the events stored before the migration: %v; expected them read", err)
		}
		n++
	}
	if n != 1000 {
		t.Fatalf("read %d events stored before the migration; expected 1000", n)
	}
	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("the file was %d bytes before the migration and %d after; expected no page added", len(before), len(after))
	}
	var changed []int
	for p := 0; p*pageSize < min(len(before), len(after)); p++ {
		if !bytes.Equal(before[p*pageSize:(p+1)*pageSize], after[p*pageSize:(p+1)*pageSize]) {
			changed = append(changed, p+1)
		}
	}
	// The header and schema (page 1) and the leaf that records the
	// migration; the events' pages are dozens.
	if len(changed) > 3 {
		t.Errorf("the migration changed %d of %d pages (%v); expected the schema's and the migrations table's only, no row rewritten",
			len(changed), len(before)/pageSize, changed)
	}

	s = openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, stream, 1, 10)
	if err := s.QueryRow(t.Context(), "SELECT COUNT(*) FROM events WHERE checksum IS NULL", &nulls); err != nil || nulls != 1000 {
		t.Errorf("events without a checksum after an append that followed the migration: %d, %v; expected the 1000 stored before it", nulls, err)
	}
}

// TestARetryOfAnEventWhoseStoredCopyWentBadIsDamageNotAConflict: an append
// that repeats a stored batch (same ids, same content) is answered as the
// retry it is; the store decides so by reading the stored events, and that
// read skipped the checksum every other read checks: with a digit of the
// stored copy gone bad, the retry was refused 409 idempotency-key-reused
// (the client told it had sent other content under its ids), and nothing
// reported the damage. From the session's final read.
func TestARetryOfAnEventWhoseStoredCopyWentBadIsDamageNotAConflict(t *testing.T) {
	t.Parallel()
	dir, req := storeWithAnEventGoneBad(t, 0, 0)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open after a clean stop: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	_, err = s.Append(t.Context(), req)
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("a retry of an event whose stored copy went bad: %v; want ErrUnavailable saying the file is damaged", err)
	}
}

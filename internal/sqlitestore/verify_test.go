package sqlitestore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestVerifyFindsEveryEventThatFailsItsChecksum: short of reading the whole
// log over HTTP, which stops at the first damaged event, an operator had no
// way to find every event gone bad. Verify checks every event, reports the
// position of each that fails, writes them down for the next start, and,
// once none fails (the file restored), forgets them and leaves the store
// ready.
func TestVerifyFindsEveryEventThatFailsItsChecksum(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	stream := uuid.New()
	markers := []string{`"MARKER-A-0123456789","amount":100`, `"MARKER-B-0123456789","amount":100`}
	for _, m := range markers {
		appendEvents(t, s, stream, 3, 100)
		e := eventstore.NewEvent{Type: "Paid", Data: []byte(`{"m":` + m + `}`)}
		if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: []eventstore.NewEvent{e}}); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(t, s, stream, 3, 100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, m := range markers {
		setByteInEvent(t, dir, m, len(m)-1, '8') // 100 → 108: still JSON
	}

	verify := func(what string) (sqlitestore.Verification, error) {
		t.Helper()
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		v, err := s.Verify(t.Context())
		if err != nil {
			t.Fatalf("Verify %s: %v; expected it to check every event", what, err)
		}
		return v, s.Ping(t.Context())
	}
	v, ping := verify("with two events damaged")
	if v.Events != 11 || !slices.Equal(v.Damaged, []int64{4, 8}) {
		t.Errorf("Verify with the events at positions 4 and 8 damaged: %d events checked, damaged %v; expected 11, [4 8]", v.Events, v.Damaged)
	}
	if !errors.Is(ping, eventstore.ErrUnavailable) {
		t.Errorf("Ping after Verify found damaged events: %v; expected ErrUnavailable", ping)
	}
	marked := filepath.Join(dir, sqlitestore.DamagedFileName)
	b, err := os.ReadFile(marked)
	if err != nil || !strings.HasSuffix(string(b), "\n4\n8\n") {
		t.Errorf("%s after Verify found positions 4 and 8: %q, %v; expected them written down", marked, b, err)
	}

	for _, m := range markers {
		setByteInEvent(t, dir, strings.Replace(m, "100", "108", 1), len(m)-1, '0') // restored
	}
	v, ping = verify("with the events restored")
	if v.Events != 11 || len(v.Damaged) != 0 || ping != nil {
		t.Errorf("Verify with every event restored: %d events checked, damaged %v, Ping %v; expected 11, none, ready", v.Events, v.Damaged, ping)
	}
	if _, err := os.Stat(marked); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Verify found no event damaged: %v; expected it removed", marked, err)
	}
}

// TestVerifyRefusesADamagedPage: Verify reads every page as a start after
// a crash does, and says a file with a damaged page is damaged.
func TestVerifyRefusesADamagedPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	appendEvents(t, s, uuid.New(), 60, 400)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, sqlitestore.FileName)
	page, size := pageOf(t, path, "events", "leaf", "path", 1)
	damageAt(t, path, page, size)
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open after a clean stop of a file damaged in a page start-up does not read: %v; expected it to start", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Verify(t.Context()); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("Verify of a file with a damaged leaf of the events table: %v; expected it to say the file is damaged", err)
	}
}

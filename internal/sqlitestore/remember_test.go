package sqlitestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAnEventFoundDamagedIsRememberedAcrossARestart: an event whose bytes
// went bad inside valid JSON, found by a read as not matching its checksum,
// made the store not ready, but a restart forgot it: the start's
// quick_check reads no row's content, so /readyz answered 200 again until a
// read met the event again. A start must remember it (tributary.damaged,
// beside the file) and not be ready, at every start, until the event
// matches its checksum again (the file restored), when it forgets it.
func TestAnEventFoundDamagedIsRememberedAcrossARestart(t *testing.T) {
	t.Parallel()
	dir, bad := storeWithAnEventGoneBad(t, 5, 10) // more after it than a start checks of the newest

	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping before the damaged event was read: %v; expected the store ready", err)
	}
	if _, err := s.Event(t.Context(), bad.StreamID, 6); !errors.Is(err, eventstore.ErrUnavailable) {
		s.Close()
		t.Fatalf("read of the damaged event: %v; expected ErrUnavailable", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	marked := filepath.Join(dir, sqlitestore.DamagedFileName)
	for i := range 2 {
		s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
		if err != nil {
			t.Fatalf("start %d after the damaged event was read: %v; expected it to start, not ready", i+1, err)
		}
		err = s.Ping(t.Context())
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "position 6") {
			t.Fatalf("Ping at start %d after a read found the event at position 6 damaged: %v; expected ErrUnavailable saying the file is damaged at position 6", i+1, err)
		}
	}
	if _, err := os.Stat(marked); err != nil {
		t.Fatalf("%s after starts that found the event still damaged: %v; expected it kept", marked, err)
	}

	setByteInEvent(t, dir, `"MARKER-0123456789","amount":108`, len(goneBad)-1, '0') // restored
	s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping at a start after the damaged event was restored: %v; expected the store ready", err)
	}
	if _, err := os.Stat(marked); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after a start found the event it names restored: %v; expected it removed", marked, err)
	}
}

// TestALongListOfDamagedEventsDoesNotStopTheStart: tributary.damaged holds
// at most 1,000 positions as the store writes it; one made longer by hand
// (or by a tool) was read whole into one statement, past SQLite's 32,766
// parameters, and every start failed. The start checks the first 1,000.
func TestALongListOfDamagedEventsDoesNotStopTheStart(t *testing.T) {
	t.Parallel()
	dir := storeWithEvents(t, 3)
	var b strings.Builder
	for p := range 40000 {
		b.WriteString(strconv.Itoa(p+1) + "\n")
	}
	marked := filepath.Join(dir, sqlitestore.DamagedFileName)
	if err := os.WriteFile(marked, []byte(b.String()), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open with 40,000 positions in %s: %v; expected it to start", sqlitestore.DamagedFileName, err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping with every event named in %s matching its checksum: %v; expected the store ready", sqlitestore.DamagedFileName, err)
	}
	if _, err := os.Stat(marked); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after a start found every event it names matching: %v; expected it removed", marked, err)
	}
}

// TestAStartChecksTheNewestEventsAgainstTheirChecksums: bytes gone bad at
// rest in the log's newest events, after a clean stop, were served as ready
// until a read met them (a subscriber catching up reads them first). Each
// start checks the newest events' checksums, a page or two whatever the
// size of the log, and is not ready if one fails, remembering it.
func TestAStartChecksTheNewestEventsAgainstTheirChecksums(t *testing.T) {
	t.Parallel()
	dir, _ := storeWithAnEventGoneBad(t, 20, 2)

	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open after a clean stop with the third newest event damaged: %v; expected it to start, not ready", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "position 21") {
		t.Errorf("Ping after a start with the event at position 21, the third newest, damaged: %v; expected ErrUnavailable naming position 21", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, sqlitestore.DamagedFileName))
	if err != nil || !strings.HasSuffix(string(b), "\n21\n") {
		t.Errorf("%s after a start found position 21 damaged: %q, %v; expected it written down", sqlitestore.DamagedFileName, b, err)
	}
}

// TestADamagedListThatCannotBeReadAsItIsWrittenStopsTheStart: a line of
// tributary.damaged that is not a position (edited by hand: "5 # x",
// "3,5") was passed over, and the file, found to name no damaged event,
// removed as if the database had been restored: the damage forgotten. And a
// FIFO in its place (a tool, a mistake) held the start for good, past its
// timeout and SIGTERM. Either now stops the start, saying what to do. (A
// black-box tester.)
func TestADamagedListThatCannotBeReadAsItIsWrittenStopsTheStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, content string }{
		{"a comment after a position", "5 # x\n"},
		{"two positions on a line", "3,5\n"},
		{"a word", "abc\n"},
		{"zero", "0\n"},
		{"past int64", "99999999999999999999\n"},
		{"a FIFO", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := storeWithEvents(t, 3)
			marked := filepath.Join(dir, sqlitestore.DamagedFileName)
			if tc.name == "a FIFO" {
				if err := mkfifo(marked); err != nil {
					t.Skipf("mkfifo: %v", err)
				}
			} else if err := os.WriteFile(marked, []byte("# the events found damaged\n"+tc.content), 0o640); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open with %s in %s: started; expected it refused, the list kept", tc.name, sqlitestore.DamagedFileName)
			}
			if !strings.Contains(err.Error(), sqlitestore.DamagedFileName) {
				t.Errorf("Open with %s in %s: %v; expected the error to name the file", tc.name, sqlitestore.DamagedFileName, err)
			}
			if _, serr := os.Lstat(marked); serr != nil {
				t.Errorf("%s after a refused start: %v; expected it kept", sqlitestore.DamagedFileName, serr)
			}
		})
	}
}

// goneBad is the data of the event storeWithAnEventGoneBad turns bad at
// rest: its last digit, 100 to 108, keeps it JSON.
const goneBad = `"MARKER-0123456789","amount":100`

// storeWithAnEventGoneBad makes a migrated store in a fresh directory with
// before events, one event holding goneBad, and after events, all in one
// stream; it stops the store and turns goneBad's last digit from 0 to 8 in
// the file. It returns the directory and the append of the event gone bad
// (its id given, for a retry).
func storeWithAnEventGoneBad(t *testing.T, before, after int) (string, eventstore.AppendRequest) {
	t.Helper()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	req := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
		Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "Paid", Data: []byte(`{"m":` + goneBad + `}`)}}}
	if before > 0 {
		appendEvents(t, s, req.StreamID, before, 100)
	}
	if _, err := s.Append(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if after > 0 {
		appendEvents(t, s, req.StreamID, after, 100)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	setByteInEvent(t, dir, goneBad, len(goneBad)-1, '8')
	return dir, req
}

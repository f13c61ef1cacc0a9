package sqlitestore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestADamagedPageMetByAReadMakesTheStoreNotReadyAndSaysToRestore: a page
// gone bad at rest that start-up does not read (a leaf in the middle of the
// events table, after a clean stop) was met by a read of the log as a bare
// 500 ("database disk image is malformed", a bug by the README's table),
// while /readyz went on answering 200 and the next clean stop let the next
// start skip the full check. A read that meets damage must be a 503 whose
// logged error says the file is damaged and to restore it from a backup;
// the store must log it once at ERROR, report itself not ready from then
// on, and leave the next start to check every page.
func TestADamagedPageMetByAReadMakesTheStoreNotReadyAndSaysToRestore(t *testing.T) {
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

	var logs testlog.Buffer
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open after a clean stop of a file damaged in a page start-up does not read: %v; expected it to start", err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	srv := esthttp.New(s, esthttp.Options{OpenAPI: api.OpenAPI})
	serve := func(target string) (int, map[string]any) {
		t.Helper()
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		var p map[string]any
		json.Unmarshal(w.Body.Bytes(), &p) //nolint:errcheck // a body that is not JSON leaves p empty, which the checks report
		return w.Code, p
	}
	if code, _ := serve("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before the damaged page was read: %d, expected 200", code)
	}
	for i := range 2 {
		code, p := serve("/events?limit=1000")
		if code != http.StatusServiceUnavailable || p["type"] != esthttp.ProblemBase+"unavailable" {
			t.Errorf("read %d of the log through a damaged page: %d %v, expected 503 unavailable", i+1, code, p)
		}
	}
	_, err = s.ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 1000})
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "is damaged") ||
		!strings.Contains(err.Error(), "restore it from a backup") || !strings.Contains(err.Error(), path) {
		t.Errorf("the store's error for a read of a damaged page: %v; expected ErrUnavailable saying the file %s is damaged and to restore it from a backup", err, path)
	}
	if code, p := serve("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz once a read met a damaged page: %d %v, expected 503", code, p)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("Ping once a read met a damaged page: %v; expected ErrUnavailable saying the file is damaged", err)
	}
	var errorLines []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			errorLines = append(errorLines, line)
		}
	}
	if len(errorLines) != 1 || !strings.Contains(errorLines[0], "damaged") || !strings.Contains(errorLines[0], "backup") ||
		!strings.Contains(errorLines[0], path) {
		t.Errorf("the store logged, after three reads met a damaged page:\n%s\nexpected one ERROR line saying the file %s is damaged and to restore it from a backup", logs.String(), path)
	}

	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open after a stop of a store that had met a damaged page: succeeded; expected the full check to refuse the file")
	}
	if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "backup") {
		t.Errorf("Open after a stop of a store that had met a damaged page: %v; expected it refused as damaged, saying to restore from a backup", err)
	}
}

// TestDamagedBytesInAnEventsDataAreNotServedAsJSON: bytes gone bad inside
// an event's data or metadata, where neither SQLite nor the look a start
// takes checks anything, were served with a 200 as they were: an answer
// that is not JSON (or not UTF-8), which a client fails to parse with no
// word of why. A read that meets such an event must fail as a damaged file
// does, saying to restore it from a backup, and never hand it out: a page
// of the log, of the stream (the connection cut, as for any read that fails
// after its first event), the event alone (a 503), and the live feed's read.
// Events stored before the store kept a checksum of each (see
// TestAFlippedDigitInAnEventsJSONIsFoundByEveryRead) still get this check.
func TestDamagedBytesInAnEventsDataAreNotServedAsJSON(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ where, stored string }{
		{"data", "summed"}, {"metadata", "summed"}, {"data", "before checksums"}, {"metadata", "before checksums"},
	} {
		where := c.where
		t.Run(where+" "+c.stored, func(t *testing.T) {
			t.Parallel()
			const marker = "MARKER-0123456789"
			dir := t.TempDir()
			s := openMigrated(t, dir)
			stream := uuid.New()
			appendEvents(t, s, stream, 5, 100)
			e := eventstore.NewEvent{Type: "Happened", Data: []byte(`{"a":"x"}`), Metadata: []byte(`{"n":1}`)}
			if where == "data" {
				e.Data = []byte(`{"m":"` + marker + `"}`)
			} else {
				e.Metadata = []byte(`{"m":"` + marker + `"}`)
			}
			if _, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: []eventstore.NewEvent{e}}); err != nil {
				t.Fatal(err)
			}
			appendEvents(t, s, stream, 5, 100)
			if c.stored != "summed" {
				forgetChecksums(t, s)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The quote after the marker, bit rot's one byte: `{"m":"MARKER-…!}`.
			setByteInEvent(t, dir, marker, len(marker), '!')

			expectEveryReadFails(t, dir, stream, 6, "a damaged byte in an event's "+where)
		})
	}
}

// expectEveryReadFails opens the store in dir, stopped cleanly with the
// event at version of stream damaged as what says, and fails the test
// unless every read that meets the event fails as on a damaged file: a page
// of the log, of the stream and the event alone through HTTP (503, or the
// connection cut once a page's first event was sent: never a 200), and the
// live feed's read (ErrUnavailable saying the file is damaged and to
// restore it from a backup). The store stays open until the test ends.
func expectEveryReadFails(t *testing.T, dir string, stream uuid.UUID, version int, what string) {
	t.Helper()
	s, err := sqlitestore.Open(t.Context(), dir, sqlitestore.Options{})
	if err != nil {
		t.Fatalf("Open after a clean stop of a file with %s: %v; expected it to start", what, err)
	}
	t.Cleanup(func() { s.Close() })
	srv := esthttp.New(s, esthttp.Options{OpenAPI: api.OpenAPI})
	for _, target := range []string{"/events?limit=1000", "/streams/" + stream.String() + "/events",
		fmt.Sprintf("/streams/%s/events/%d", stream, version)} {
		w := httptest.NewRecorder()
		cut := false
		func() {
			// Met after the first event, the damage cuts the
			// connection (http.ErrAbortHandler): no 200 reaches the client.
			defer func() { cut = recover() == http.ErrAbortHandler }()
			srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		}()
		switch {
		case cut:
		case w.Code == http.StatusOK && !json.Valid(w.Body.Bytes()):
			t.Errorf("GET %s with %s: 200 with a body that is not JSON: %.300s", target, what, w.Body.String())
		case w.Code == http.StatusOK:
			t.Errorf("GET %s with %s: 200 %.300s; expected the read to fail", target, what, w.Body.String())
		case w.Code != http.StatusServiceUnavailable:
			t.Errorf("GET %s with %s: %d %.300s; expected 503", target, what, w.Code, w.Body.String())
		case !strings.Contains(w.Body.String(), "damaged") || strings.Contains(w.Body.String(), "Try again"):
			// A retry cannot mend a file: the client is told so, not
			// to come back after Retry-After (found by a docs review).
			t.Errorf("GET %s with %s: 503 %.300s; expected its detail to say the database is damaged, not to try again", target, what, w.Body.String())
		}
	}
	page, err := s.Tail().ReadAll(t.Context(), eventstore.ReadAllOptions{Limit: 1000})
	if err == nil {
		for _, err = range page.Events {
			if err != nil {
				break
			}
		}
	}
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "restore it from a backup") {
		t.Errorf("the live feed's read of the log with %s: %v; expected ErrUnavailable saying the file is damaged and to restore it from a backup", what, err)
	}
}

package sqlitestore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestReadsAndAppendsOfADatabaseFileMovedAwayAre503sAndMakeNoNewFile: the
// pools open a connection whenever they need one, long after start-up (a
// first read, a connection dropped for a caller that left), and SQLite
// created the database file it was given where none was. With tributary.db
// renamed aside while the server ran, the next read made a new, empty
// database at its path and answered 500 ("no such table: events"), as did
// appends; worse, that connection, beside the -wal and -shm of the moved
// file, reset its WAL: the commits since the last checkpoint were gone from
// it too, and the file put back, then a clean stop and a start, served an
// empty log. Reads and appends must be refused as the file moved or removed
// (a 503), whether a reading connection was open or not, nothing may be made
// at the path, and the file put back must serve again with every event.
func TestReadsAndAppendsOfADatabaseFileMovedAwayAre503sAndMakeNoNewFile(t *testing.T) {
	t.Parallel()
	for _, readFirst := range []bool{false, true} {
		name := "no reading connection open"
		if readFirst {
			name = "a reading connection open"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openMigrated(t, dir)
			t.Cleanup(func() { s.Close() })
			stream := uuid.New()
			appendEvents(t, s, stream, 3, 10)
			if readFirst {
				if _, err := readLog(t.Context(), s); err != nil {
					t.Fatal(err)
				}
			}
			aside := s.Path() + ".aside"
			if err := os.Rename(s.Path(), aside); err != nil {
				t.Fatal(err)
			}
			moved := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "moved or removed") {
					t.Errorf("%s with the database file moved aside: err = %v, expected ErrUnavailable saying the file was moved or removed", what, err)
				}
			}
			_, err := readLog(t.Context(), s)
			moved("ReadAll", err)
			_, err = s.Head(t.Context())
			moved("Head", err)
			_, err = s.Stream(t.Context(), stream)
			moved("Stream", err)
			_, err = s.ReadStream(t.Context(), stream, eventstore.ReadStreamOptions{Limit: 10})
			moved("ReadStream", err)
			_, err = s.Event(t.Context(), stream, 1)
			moved("Event", err)
			_, err = s.EventPosition(t.Context(), stream, 1)
			moved("EventPosition", err)
			_, err = s.ListStreams(t.Context(), eventstore.ListStreamsOptions{Limit: 10})
			moved("ListStreams", err)
			_, err = s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
			moved("Append", err)
			srv := esthttp.New(s, esthttp.Options{OpenAPI: api.OpenAPI})
			// Each answer says what happened, as README promises: the
			// file moved or removed, not "cannot be reached" (an apiuser
			// found only the log named it).
			for _, tc := range []struct{ method, target, accept, body string }{
				{http.MethodGet, "/events", "", ""},
				{http.MethodGet, "/streams/" + stream.String() + "/events", "", ""},
				{http.MethodGet, "/readyz", "", ""},
				{http.MethodGet, "/events", "text/event-stream", ""},
				{http.MethodGet, "/streams/" + stream.String() + "/events", "text/event-stream", ""},
				{http.MethodPost, "/streams/" + uuid.NewString() + "/events", "", `{"stream_type":"t","events":[{"type":"A","data":1}]}`},
			} {
				w := httptest.NewRecorder()
				req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
				if tc.accept != "" {
					req.Header.Set("Accept", tc.accept)
				}
				if tc.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "moved or removed") || strings.Contains(w.Body.String(), "cannot be reached") {
					t.Errorf("%s %s (%s) with the database file moved aside: %d %.400s, expected 503 saying the file was moved or removed", tc.method, tc.target, tc.accept, w.Code, w.Body.String())
				}
			}
			if _, err := os.Stat(s.Path()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after reads and an append with the database file moved aside, stat of its path: %v; expected no file made there", err)
			}

			if err := os.Rename(aside, s.Path()); err != nil {
				t.Fatal(err)
			}
			if err := s.Ping(t.Context()); err != nil {
				t.Errorf("ping with the database file back: %v", err)
			}
			if n, err := readLog(t.Context(), s); err != nil || n != 3 {
				t.Errorf("ReadAll with the database file back: %d events (%v), expected the 3 appended", n, err)
			}
			appendEvents(t, s, stream, 1, 10)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openMigrated(t, dir)
			if head, err := s.Head(t.Context()); err != nil || head != 4 {
				t.Errorf("the head after a restart is %d (%v); expected 4, every acknowledged append", head, err)
			}
		})
	}
}

// TestReadsOfADatabaseFileRemovedAre503sAndMakeNoNewFile: with the files
// removed (rm tributary.db*) while the server ran, a read's new connection
// made a new, empty database there, which a restart would serve as the log,
// and answered 500. It must be refused as the file moved or removed.
func TestReadsOfADatabaseFileRemovedAre503sAndMakeNoNewFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, uuid.New(), 3, 10)
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(s.Path() + suffix); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	_, err := readLog(ctx, s)
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "moved or removed") {
		t.Errorf("ReadAll with the database file removed: err = %v, expected ErrUnavailable saying the file was moved or removed", err)
	}
	for _, name := range []string{sqlitestore.FileName, sqlitestore.FileName + "-wal"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after a read with the database file removed, stat of %s: %v; expected no file made there", name, err)
		}
	}
}

// readLog reads the log's first page of s, and returns how many events it
// held, or the first error of the read or of its events.
func readLog(ctx context.Context, s *sqlitestore.Store) (int, error) {
	return countPage(s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}))
}

// readTail is readLog through the live feed's reads (Tail).
func readTail(ctx context.Context, s *sqlitestore.Store) (int, error) {
	return countPage(s.Tail().ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}))
}

// countPage returns how many events page held, or the first error of its
// read (err) or of its events.
func countPage(page eventstore.LogPage, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n := 0
	for _, err := range page.Events {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// TestAReadOfADatabaseFileReplacedByACopyIsA503: with tributary.db moved
// aside and a copy of it put at its path (mv, then cp back), a read's new
// connection opened the copy, beside the moved file's WAL and its index,
// and answered 200 from a file that appends, and every start after a crash,
// treat apart from that WAL. It must be refused as the file moved or
// removed, and the file put back, a clean stop and a start must serve every
// acknowledged event.
func TestAReadOfADatabaseFileReplacedByACopyIsA503(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, uuid.New(), 3, 10)
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(s.Path(), s.Path()+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readLog(t.Context(), s); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "moved or removed") {
		t.Errorf("a read with a copy of the database file in its place: err = %v, expected ErrUnavailable saying the file was moved or removed", err)
	}
	if err := os.Rename(s.Path()+".aside", s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openMigrated(t, dir)
	if head, err := s.Head(t.Context()); err != nil || head != 3 {
		t.Errorf("after a read with a copy in the file's place, the file put back, a clean stop and a start, the head is %d (%v); expected 3", head, err)
	}
}

// TestTheLiveFeedsReadsOfADatabaseFileMovedOrOverwrittenFail: the live
// feed reads the log on connections of its own (Tail), which checked
// nothing: with the file moved aside, its connections already open read on
// from the moved file, and with a copy put over it (found by an append),
// from the copy, while Ping answered 503 (and every other read, for the
// file moved). Subscribers were served from a file the server no longer
// serves. The feed's reads, and the clients', must fail as Ping does.
func TestTheLiveFeedsReadsOfADatabaseFileMovedOrOverwrittenFail(t *testing.T) {
	t.Parallel()
	tailReads := func(t *testing.T, s *sqlitestore.Store, what, want string) {
		t.Helper()
		tail := s.Tail()
		if head, err := tail.Head(t.Context()); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("the live feed's Head with %s: head %d, err = %v; want ErrUnavailable saying %q", what, head, err, want)
		}
		if n, err := readTail(t.Context(), s); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("the live feed's ReadAll with %s: %d events, err = %v; want ErrUnavailable saying %q", what, n, err, want)
		}
		if id, err := tail.IDAt(t.Context(), 1); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), want) {
			t.Errorf("the live feed's IDAt with %s: id %v, err = %v; want ErrUnavailable saying %q", what, id, err, want)
		}
	}
	t.Run("moved aside", func(t *testing.T) {
		t.Parallel()
		s := openMigrated(t, t.TempDir())
		t.Cleanup(func() { s.Close() })
		appendEvents(t, s, uuid.New(), 3, 10)
		// The feed's connections are open, as they are once it has polled.
		if n, err := readTail(t.Context(), s); err != nil || n != 3 {
			t.Fatalf("the live feed's ReadAll: %d events (%v); want 3", n, err)
		}
		if err := os.Rename(s.Path(), s.Path()+".aside"); err != nil {
			t.Fatal(err)
		}
		tailReads(t, s, "the database file moved aside", "moved or removed")
		if err := os.Rename(s.Path()+".aside", s.Path()); err != nil {
			t.Fatal(err)
		}
		if n, err := readTail(t.Context(), s); err != nil || n != 3 {
			t.Errorf("the live feed's ReadAll with the file back: %d events (%v); want 3", n, err)
		}
	})
	t.Run("overwritten", func(t *testing.T) {
		t.Parallel()
		backup := filepath.Join(storeWithEvents(t, 2), sqlitestore.FileName)
		s := openMigrated(t, storeWithEvents(t, 2))
		t.Cleanup(func() { s.Close() })
		appendN(t, s, 1)
		if _, err := readTail(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		overwriteInPlace(t, backup, s.Path())
		_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{{Type: "After", Data: []byte(`{}`)}}})
		if !errors.Is(err, eventstore.ErrOverwritten) {
			t.Fatalf("an append after the file was overwritten in place: %v; want ErrOverwritten", err)
		}
		tailReads(t, s, "the database file overwritten", "overwritten")
		// As the clients' reads do, which read the same file.
		if n, err := readLog(t.Context(), s); !errors.Is(err, eventstore.ErrOverwritten) {
			t.Errorf("ReadAll with the database file overwritten: %d events, err = %v; want ErrOverwritten", n, err)
		}
		if head, err := s.Head(t.Context()); !errors.Is(err, eventstore.ErrOverwritten) {
			t.Errorf("Head with the database file overwritten: head %d, err = %v; want ErrOverwritten", head, err)
		}
	})
}

// TestA503ForTheWALRemovedCarriesNoRetryAfter: with tributary.db-wal
// removed while the server ran, every append, read and /readyz answers 503
// until the server is stopped cleanly and started again: no retry mends
// it. The answers carried Retry-After, which a client that obeys it retries
// on for ever, as a damaged or overwritten file's 503s do not; their detail
// said to try again after it.
func TestA503ForTheWALRemovedCarriesNoRetryAfter(t *testing.T) {
	t.Parallel()
	s := openMigrated(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	stream := uuid.New()
	appendEvents(t, s, stream, 1, 10)
	if err := os.Remove(s.Path() + "-wal"); err != nil {
		t.Fatal(err)
	}
	srv := esthttp.New(s, esthttp.Options{OpenAPI: api.OpenAPI})
	for _, r := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/events", nil),
		httptest.NewRequest(http.MethodGet, "/streams/"+stream.String()+"/events", nil),
		httptest.NewRequest(http.MethodGet, "/readyz", nil),
		httptest.NewRequest(http.MethodPost, "/streams/"+uuid.NewString()+"/events",
			strings.NewReader(`{"stream_type":"t","events":[{"type":"Happened","data":{}}]}`)),
	} {
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != http.StatusServiceUnavailable || w.Header().Values("Retry-After") != nil || strings.Contains(w.Body.String(), "Try again after Retry-After") {
			t.Errorf("%s %s with the WAL removed: %d, Retry-After %q, %.300s; want 503 without Retry-After, whose detail says a restart mends it",
				r.Method, r.URL.Path, w.Code, w.Header().Values("Retry-After"), w.Body.String())
		}
	}
}

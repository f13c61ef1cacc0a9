package sqlitestore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestNoResponseCarriesTheDataDirectorysPath: the embedded store's errors
// name its files by their path (a file moved or removed, a WAL replaced, a
// hard link made, a damaged page), which the log may show but a client must
// not be told: where the server keeps its data is none of its business. Each
// such error the store can meet while it serves is provoked through the
// HTTP API, and no response, body or header, may hold the path, nor the
// driver's own text: a 413 for an event too large quoted SQLite's message
// and the store's name for its statement.
func TestNoResponseCarriesTheDataDirectorysPath(t *testing.T) {
	t.Parallel()
	const marker = "data-dir-path-marker"
	type provoke func(t *testing.T, s *sqlitestore.Store, dir string) []*http.Request
	appendOf := func(data string) *http.Request {
		body := `{"stream_type":"t","events":[{"type":"Happened","data":` + data + `}]}`
		r := httptest.NewRequest(http.MethodPost, "/streams/"+uuid.NewString()+"/events", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	appendAndReady := func() []*http.Request {
		return []*http.Request{appendOf(`{}`), httptest.NewRequest(http.MethodGet, "/readyz", nil)}
	}
	cases := map[string]provoke{
		"the data directory moved": func(t *testing.T, s *sqlitestore.Store, dir string) []*http.Request {
			moved := dir + "-moved"
			if err := os.Rename(dir, moved); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Rename(moved, dir) })
			return appendAndReady()
		},
		"the WAL removed": func(t *testing.T, s *sqlitestore.Store, dir string) []*http.Request {
			if err := os.Remove(s.Path() + "-wal"); err != nil {
				t.Fatal(err)
			}
			return appendAndReady()
		},
		"a hard link made": func(t *testing.T, s *sqlitestore.Store, dir string) []*http.Request {
			link := filepath.Join(t.TempDir(), "backup.db")
			if err := os.Link(s.Path(), link); err != nil {
				t.Fatal(err)
			}
			return appendAndReady()
		},
		"a full disk": func(t *testing.T, s *sqlitestore.Store, dir string) []*http.Request {
			if err := s.LimitPages(1); err != nil {
				t.Fatal(err)
			}
			return []*http.Request{appendOf(`"` + strings.Repeat("x", 64<<10) + `"`)}
		},
		"an event too large for SQLite": func(t *testing.T, s *sqlitestore.Store, dir string) []*http.Request {
			if err := s.LimitLength(t.Context(), 100_000); err != nil {
				t.Fatal(err)
			}
			return []*http.Request{appendOf(`"` + strings.Repeat("x", 200_000) + `"`)}
		},
	}
	for name, provoke := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), marker)
			s := teststore.OpenSQLite(t, dir)
			srv := esthttp.New(s, esthttp.Options{OpenAPI: api.OpenAPI})
			for range 3 {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, appendOf(`{}`))
				if w.Code != http.StatusCreated {
					t.Fatalf("an append before the fault: %d %s", w.Code, w.Body.String())
				}
			}
			requireNoPath(t, srv, provoke(t, s, dir), name, dir, marker)
		})
	}
	// A page gone bad at rest that start-up does not read (the middle leaf
	// of the events table) met by a read of the log.
	t.Run("a damaged page read", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), marker)
		s := openMigrated(t, dir)
		appendEvents(t, s, uuid.New(), 60, 400)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		page, size := pageOf(t, filepath.Join(dir, sqlitestore.FileName), "events", "leaf", "path", 1)
		damageAt(t, filepath.Join(dir, sqlitestore.FileName), page, size)
		s = teststore.OpenSQLite(t, dir)
		srv := esthttp.New(s, esthttp.Options{OpenAPI: api.OpenAPI})
		requireNoPath(t, srv, []*http.Request{httptest.NewRequest(http.MethodGet, "/events?limit=1000", nil)}, "a damaged page", dir, marker)
	})
}

// requireNoPath serves each of reqs, which the fault must fail, and fails
// the test if an answer names dir or holds marker.
func requireNoPath(t *testing.T, srv http.Handler, reqs []*http.Request, fault, dir, marker string) {
	t.Helper()
	for _, r := range reqs {
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r.WithContext(ctx))
		cancel()
		body, _ := io.ReadAll(w.Result().Body)
		if w.Code < 400 {
			t.Errorf("%s %s with %s: %d, expected the fault to fail it; body %.300s", r.Method, r.URL, fault, w.Code, body)
		}
		if strings.Contains(string(body), marker) || strings.Contains(string(body), dir) {
			t.Errorf("%s %s with %s: %d, its body names the data directory %s: %s", r.Method, r.URL, fault, w.Code, dir, body)
		}
		// Nor the driver's words, or the store's names for its statements.
		for _, internal := range []string{"string or blob too big", "insert_events", "(18)"} {
			if strings.Contains(string(body), internal) {
				t.Errorf("%s %s with %s: %d, its body quotes the store's internals (%q): %s", r.Method, r.URL, fault, w.Code, internal, body)
			}
		}
		for k, vs := range w.Result().Header {
			for _, v := range vs {
				if strings.Contains(v, marker) {
					t.Errorf("%s %s with %s: its header %s names the data directory: %s", r.Method, r.URL, fault, k, v)
				}
			}
		}
		t.Logf("%s %s with %s: %d %s", r.Method, r.URL, fault, w.Code, body)
	}
}

package http_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestACORSPreflightIsAnsweredAsAnyOPTIONS: with CORS on, a preflight (an
// OPTIONS with Origin and Access-Control-Request-Method) was 200 with no
// Allow on a path the API serves, from an origin allowed or not, and 200 on
// a path no route serves, where openapi.yaml says an OPTIONS is 204 with
// Allow and a path not listed is 404 (a black-box tester found it). Now it
// is answered as an OPTIONS without CORS is, with the CORS headers for an
// allowed origin only; every answer is checked against openapi.yaml.
func TestACORSPreflightIsAnsweredAsAnyOPTIONS(t *testing.T) {
	t.Parallel()
	const app, evil = "https://app.example.com", "https://evil.example"
	store := teststore.SQLite.Open(t)
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, CORSOrigins: []string{app}}))
	t.Cleanup(srv.Close)
	s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}, store: store}
	events := "/streams/" + uuid.NewString() + "/events"
	preflight := func(path, origin string) response {
		t.Helper()
		return s.do(http.MethodOptions, path, "", "Origin", origin, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "Content-Type, If-Match")
	}

	r := preflight(events, app)
	if r.status != http.StatusNoContent || r.header.Get("Allow") != "GET, HEAD, POST, OPTIONS" || len(r.body) != 0 {
		t.Errorf("a preflight from an allowed origin: %d with Allow %q and %d bytes of body, want 204 with Allow %q and none",
			r.status, r.header.Get("Allow"), len(r.body), "GET, HEAD, POST, OPTIONS")
	}
	if r.header.Get("Access-Control-Allow-Origin") != app || r.header.Get("Access-Control-Allow-Methods") != "POST" ||
		r.header.Get("Access-Control-Allow-Headers") == "" || r.header.Get("Access-Control-Max-Age") == "" {
		t.Errorf("a preflight from an allowed origin: CORS headers %q, want it allowed", corsHeaders(r.header))
	}

	r = preflight(events, evil)
	if r.status != http.StatusNoContent || r.header.Get("Allow") != "GET, HEAD, POST, OPTIONS" {
		t.Errorf("a preflight from a refused origin: %d with Allow %q, want 204 with Allow %q, as an OPTIONS",
			r.status, r.header.Get("Allow"), "GET, HEAD, POST, OPTIONS")
	}
	if h := corsHeaders(r.header); len(h) != 0 {
		t.Errorf("a preflight from a refused origin: CORS headers %q, want none", h)
	}

	// Nor does a path no route serves take any method: its 404 carried
	// Access-Control-Allow-Origin, -Methods and -Max-Age all the same (a
	// black-box tester of the twenty-fourth session found it).
	for _, origin := range []string{app, evil} {
		for _, path := range []string{"/nope/x", "/nope", "/streams/", "/events/"} {
			r = preflight(path, origin)
			if r.status != http.StatusNotFound || r.header.Get("Allow") != "" {
				t.Errorf("a preflight from %s to %s, which no route serves: %d with Allow %q, want 404 with none", origin, path, r.status, r.header.Get("Allow"))
			}
			if h := corsHeaders(r.header); len(h) != 0 {
				t.Errorf("a preflight from %s to %s, which no route serves: CORS headers %q, want none (it takes no method)", origin, path, h)
			}
		}
	}
}

// corsHeaders returns the Access-Control-Allow-* headers of h.
func corsHeaders(h http.Header) map[string]string {
	got := map[string]string{}
	for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"} {
		if v := h.Get(name); v != "" {
			got[name] = v
		}
	}
	return got
}

// TestACORSPreflightForAMethodThePathRefusesIsNotAllowed: a preflight
// asking for a method the path does not take (POST on a stream, on
// /healthz) was allowed, Access-Control-Allow-Methods naming it, for any
// path: the library checks the method against one list for the whole API.
// The page's request then went out and was answered 405. Now such a
// preflight is answered as any OPTIONS of the path (204 with its Allow)
// but with no Access-Control-Allow-* header, so the browser refuses the
// request itself; one for a method the path takes is still allowed.
func TestACORSPreflightForAMethodThePathRefusesIsNotAllowed(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	store := teststore.SQLite.Open(t)
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, CORSOrigins: []string{app}}))
	t.Cleanup(srv.Close)
	s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}, store: store}
	stream := "/streams/" + uuid.NewString()
	for _, c := range []struct {
		method, path string
		allowed      bool
	}{
		{http.MethodPost, stream + "/events", true},
		{http.MethodGet, stream + "/events", true},
		{http.MethodHead, stream, true},
		{http.MethodPost, stream, false},
		{http.MethodPost, "/healthz", false},
		{http.MethodPost, "/events", false},
		{http.MethodPost, stream + "/events/1", false},
		{http.MethodDelete, stream + "/events", false},
		{http.MethodPut, stream, false},
	} {
		r := s.do(http.MethodOptions, c.path, "", "Origin", app, "Access-Control-Request-Method", c.method)
		if r.status != http.StatusNoContent || r.header.Get("Allow") == "" {
			t.Errorf("a preflight for %s %s: %d with Allow %q, want 204 with the path's Allow", c.method, c.path, r.status, r.header.Get("Allow"))
		}
		h := corsHeaders(r.header)
		if c.allowed && (h["Access-Control-Allow-Origin"] != app || h["Access-Control-Allow-Methods"] != c.method) {
			t.Errorf("a preflight for %s %s, which the path takes: CORS headers %q, want it allowed", c.method, c.path, h)
		}
		if !c.allowed && len(h) != 0 {
			t.Errorf("a preflight for %s %s, which the path answers 405 (Allow %q): CORS headers %q, want none",
				c.method, c.path, r.header.Get("Allow"), h)
		}
	}
}

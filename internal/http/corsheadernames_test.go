package http_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// oddHeaderNames are request header names a page may set (RFC 9110 §5.1: a
// token), each with a character the CORS library drops from the names it
// answers a preflight with: it named X-Trace+Id back as X-Traceid, which
// the browser, comparing the names, took for a refusal.
const oddHeaderNames = "authorization, x-trace+id, x-a!b, x-c#d, x-e$f, x-g%h, x-i&j, x-k'l, x-m*n, x-o^p, x-q`r, x-s|t, x-u~v"

// notGranted returns the names of asked (a comma-separated list) that the
// Access-Control-Allow-Headers of h does not name, compared as a browser
// does, without regard to case.
func notGranted(h http.Header, asked string) []string {
	granted := strings.Split(strings.ToLower(h.Get("Access-Control-Allow-Headers")), ", ")
	var missing []string
	for _, name := range strings.Split(asked, ",") {
		if name = strings.ToLower(strings.TrimSpace(name)); !slices.Contains(granted, name) {
			missing = append(missing, name)
		}
	}
	return missing
}

// TestACORSPreflightNamesBackEachHeaderAsAsked: a listed origin's preflight
// is allowed every request header it asks for, each named back in
// Access-Control-Allow-Headers. The library named back only the letters,
// digits, '-', '_' and '.' of each name, dropping the rest of what a
// header's name may hold ('+', '!', '#', …): the browser, matching the
// names it asked for, found such a header not allowed and failed the
// request as a network error. Each name is named back as asked now. On
// both stores.
func TestACORSPreflightNamesBackEachHeaderAsAsked(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const app = "https://app.example.com"
		s := serveWith(t, k.Open(t), esthttp.Options{OpenAPI: api.OpenAPI, CORSOrigins: []string{app}})
		events := "/streams/" + uuid.NewString() + "/events"
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			r := s.do(http.MethodOptions, events, "", "Origin", app, "Access-Control-Request-Method", method,
				"Access-Control-Request-Headers", oddHeaderNames)
			if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != app {
				t.Errorf("a %s preflight from a listed origin asking for %q: %d with CORS headers %q, want 204 allowing it",
					method, oddHeaderNames, r.status, corsHeaders(r.header))
				continue
			}
			if missing := notGranted(r.header, oddHeaderNames); len(missing) > 0 {
				t.Errorf("a %s preflight from a listed origin asking for %q: Access-Control-Allow-Headers %q, want each named as asked; missing %q",
					method, oddHeaderNames, r.header.Get("Access-Control-Allow-Headers"), missing)
			}
		}
	})
}

// TestAPreflightAtTheConnectionCapNamesBackEachHeaderAsAsked: the refusal
// of a connection past its bound answers a preflight with the same CORS
// middleware (corsLines), and named back the same mangled names.
func TestAPreflightAtTheConnectionCapNamesBackEachHeaderAsAsked(t *testing.T) {
	const app = "https://app.example.com"
	b := startBounded(t, 10, 1, app)
	c := dialFrom(t, b.addr, "127.0.0.1")
	c.send(t, "/block")
	resp, body := preflightPastTheCap(t, b, app, oddHeaderNames)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != app {
		t.Fatalf("a listed origin's preflight past the client's bound: %d %v %s; want 204", resp.StatusCode, resp.Header, body)
	}
	if missing := notGranted(resp.Header, oddHeaderNames); len(missing) > 0 {
		t.Errorf("a listed origin's preflight for %q past the client's bound: Access-Control-Allow-Headers %q; want each named as asked; missing %q",
			oddHeaderNames, resp.Header.Get("Access-Control-Allow-Headers"), missing)
	}
}

package tests

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPageWorksUnderAPathPrefix: behind a reverse proxy that serves the
// service at /tributary/ (stripping the prefix), the page's requests went
// to /events, /streams, /readyz and /openapi.yaml, absolute paths that
// leave the prefix: the proxy answered them 404 (or sent them to another
// application) and the page showed nothing. Its requests are now relative
// to its own location, the next links the API writes from the root too:
// under the prefix it shows the live log, the streams and a stream, and
// asks for nothing outside it; at / it works as before (the other tests).
func TestPageWorksUnderAPathPrefix(t *testing.T) {
	t.Parallel()
	s, b, proxy := startPageUnderPrefix(t)

	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(60, "OrderNoted")})
	b.navigate(t, proxy.URL+"/tributary/#/")
	b.waitFor(t, "the live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 60: caught up"`)
	b.waitFor(t, "positions 60 down to 1", `const p = `+strings.TrimPrefix(positionsJS, "return ")+`;
		return [p.length, p[0], p[p.length - 1]]`, "[60,60,1]")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderNoted")})
	b.waitFor(t, "the live event", `return document.getElementById('stat-position').textContent`, `"61"`)

	b.run(t, `location.hash = '#/streams?stream_type=order'; return null`)
	b.waitFor(t, "the stream listed", `return document.querySelectorAll('#streams-table tbody tr').length`, "1")
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's latest events", `return document.querySelectorAll('#stream-events li').length`, "50")
	b.click(t, "#stream-earlier")
	b.waitFor(t, "the stream's earlier events, by its next links", `return document.querySelectorAll('#stream-events li').length`, "61")
	b.waitFor(t, "the contract's link under the prefix", `return new URL(document.querySelector('footer a').href).pathname`, `"/tributary/openapi.yaml"`)

	proxy.expectNothingOutside(t, "the page under /tributary/")
}

// TestPageAtItsPrefixWithoutTheSlashMovesToIt: a proxy that strips the
// prefix as Traefik's StripPrefix and Caddy's handle_path do serves the
// page for /tributary too, without the slash, and the page there took
// its directory for /: every request it made (/events, /streams, /readyz)
// left the prefix, and it showed nothing. The page at a path that does
// not end in / now replaces its location with that path and a slash
// (fragment and query kept) before it asks for anything, and works there.
func TestPageAtItsPrefixWithoutTheSlashMovesToIt(t *testing.T) {
	t.Parallel()
	s, b, proxy := startPageUnderPrefix(t)

	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	b.navigate(t, proxy.URL+"/tributary?utm_source=chat#/streams?stream_type=order")
	b.waitFor(t, "the page at its prefix with the slash, its query and view kept", `return location.pathname + location.search + location.hash`,
		`"/tributary/?utm_source=chat#/streams?stream_type=order"`)
	b.waitFor(t, "the stream listed", `return document.querySelectorAll('#streams-table tbody tr').length`, "1")
	b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"3"`)
	proxy.expectNothingOutside(t, "the page opened at /tributary")
}

// TestPageAtItsPrefixWithoutTheSlashDoesNotBounceForEver: behind a proxy
// that serves the prefix without its slash and redirects the path with it
// back there, the page's move to the slash would bounce the tab between
// the two for ever. It moves once a tab: back at the bare prefix, it
// stays, and shows what its requests met.
func TestPageAtItsPrefixWithoutTheSlashDoesNotBounceForEver(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	backend := httputil.NewSingleHostReverseProxy(target)
	var bounced atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/tributary":
			r.URL.Path, r.URL.RawPath = "/", ""
			backend.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/tributary/"):
			bounced.Add(1)
			http.Redirect(w, r, strings.TrimSuffix(r.URL.Path, "/"), http.StatusMovedPermanently)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() {
		proxy.CloseClientConnections()
		proxy.Close()
	})

	b.navigate(t, proxy.URL+"/tributary#/")
	b.waitFor(t, "the page back at the bare prefix, its script past the move, saying what its reads met",
		`return [location.pathname, document.getElementById('error').textContent !== '']`, `["/tributary",true]`)
	if n := bounced.Load(); n != 1 {
		t.Fatalf("the proxy sent the page back from /tributary/ %d times; want once", n)
	}
}

// TestPagesOfTwoServicesOnOneOriginKeepToTheirOwn: two services a proxy
// serves on one origin, at /a/ and /b/, shared the page's Web Lock and
// BroadcastChannel (and its token in sessionStorage), all named for the
// origin alone: /b/'s tab waited for the lock /a/'s held, showed /a/'s
// events as its log, and never followed its own. The names are now the
// page's location's (as they were at /): each follows its own log.
func TestPagesOfTwoServicesOnOneOriginKeepToTheirOwn(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	a := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	bs := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	b := startBrowser(t, chromium, driver)
	proxy := startPrefixProxy(t, map[string]*server{"/a/": a, "/b/": bs})

	a.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	b.navigate(t, proxy.URL+"/a/#/")
	b.waitFor(t, "/a/'s live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 3: caught up"`)
	b.newTab(t)
	b.navigate(t, proxy.URL+"/b/#/")
	bs.mustAppend(t, newID(), appendBody{StreamType: "invoice", Events: events(5, "InvoiceNoted")})
	b.waitFor(t, "/b/'s own log, live", `return [document.getElementById('stat-position').textContent,
		[...document.querySelectorAll('#log-events li')].map(li => li.textContent.includes('InvoiceNoted')).filter(Boolean).length]`, `["5",5]`)
	b.waitFor(t, "nothing of /a/'s log in /b/'s", `return [...document.querySelectorAll('#log-events li')].filter(li => li.textContent.includes('OrderNoted')).length`, "0")
}

// prefixProxy is a reverse proxy that serves each server under its
// prefix (a path ending in /), stripping it, as a front end does that
// serves several applications on one origin. The prefix without its
// slash (/tributary) is served as / too, as Traefik's StripPrefix and
// Caddy's handle_path serve it.
type prefixProxy struct {
	*httptest.Server
	mu      sync.Mutex
	outside []string // the paths asked for outside every prefix
}

func startPrefixProxy(t *testing.T, servers map[string]*server) *prefixProxy {
	t.Helper()
	p := &prefixProxy{}
	backends := map[string]*httputil.ReverseProxy{}
	for prefix, s := range servers {
		target, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		backends[prefix] = httputil.NewSingleHostReverseProxy(target)
	}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for prefix, backend := range backends {
			if r.URL.Path == strings.TrimSuffix(prefix, "/") {
				r.URL.Path, r.URL.RawPath = "/", ""
				backend.ServeHTTP(w, r)
				return
			}
			if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok {
				r.URL.Path, r.URL.RawPath = "/"+rest, ""
				backend.ServeHTTP(w, r)
				return
			}
		}
		p.mu.Lock()
		p.outside = append(p.outside, r.URL.Path)
		p.mu.Unlock()
		http.NotFound(w, r)
	}))
	t.Cleanup(func() {
		// Close waits for the requests in flight: the page's subscription
		// is one until its connection is closed.
		p.CloseClientConnections()
		p.Close()
	})
	return p
}

// startPageUnderPrefix is startPageOnSQLite with the server behind a
// prefixProxy at /tributary/.
func startPageUnderPrefix(t *testing.T) (*server, *browser, *prefixProxy) {
	t.Helper()
	s, b := startPageOnSQLite(t)
	return s, b, startPrefixProxy(t, map[string]*server{"/tributary/": s})
}

// expectNothingOutside fails the test if anything was asked for outside
// every prefix, by what (the page and where it was opened).
func (p *prefixProxy) expectNothingOutside(t *testing.T, what string) {
	t.Helper()
	if outside := p.outsideAsked(); len(outside) > 0 {
		t.Fatalf("%s asked for %q, outside its prefix; want nothing outside it", what, outside)
	}
}

// outsideAsked returns the paths asked for outside every prefix.
func (p *prefixProxy) outsideAsked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.outside)
}

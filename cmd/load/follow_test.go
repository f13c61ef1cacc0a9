package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPageURLPutsThePathUnderTheBaseURLAndResolvesLinks: follow asked for
// the base URL and the path, or the next link, joined as strings: a base
// URL that ends in a slash asked for //events, and a next link that is an
// absolute URL or relative to its page (<?after=5>, <events?…>) for a URL
// that is none (http://hosthttp://…, http://host?after=5). The URL of each
// page is now built as the client builds it: a path from the server's root
// under the base URL's path, with or without its trailing slash; a
// reference relative to the page resolved against it (RFC 3986 §5); an
// absolute URL as it is.
func TestPageURLPutsThePathUnderTheBaseURLAndResolvesLinks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ base, page, ref, want string }{
		{"http://127.0.0.1:8080", "", "/events?limit=1000", "http://127.0.0.1:8080/events?limit=1000"},
		{"http://127.0.0.1:8080/", "", "/events?limit=1000", "http://127.0.0.1:8080/events?limit=1000"},
		{"http://h/tributary", "", "/events?limit=1000", "http://h/tributary/events?limit=1000"},
		{"http://h/tributary/", "", "/streams/x/events?limit=10", "http://h/tributary/streams/x/events?limit=10"},
		{"http://h/t/acme%2Fprod/", "", "/events", "http://h/t/acme%2Fprod/events"},
		{"http://h/tributary/", "http://h/tributary/events?limit=2", "/events?after=2&limit=2", "http://h/tributary/events?after=2&limit=2"},
		{"http://h/tributary/", "http://h/tributary/events?limit=2", "?after=2&limit=2", "http://h/tributary/events?after=2&limit=2"},
		{"http://h/tributary/", "http://h/tributary/events?limit=2", "events?after=2", "http://h/tributary/events?after=2"},
		{"http://h/tributary", "http://h/tributary/events?limit=2", "http://h/tributary/events?after=2", "http://h/tributary/events?after=2"},
		{"http://h", "http://h/events", "http://H:80/events?after=2", "http://H:80/events?after=2"},
	} {
		base, err := url.Parse(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		page := base
		if tc.page != "" {
			if page, err = url.Parse(tc.page); err != nil {
				t.Fatal(err)
			}
		}
		got, err := pageURL(base, page, tc.ref)
		if err != nil || got.String() != tc.want {
			t.Errorf("base %s, page %s, <%s>: %v, %v; expected %s", tc.base, page, tc.ref, got, err, tc.want)
		}
	}
	if _, err := pageURL(&url.URL{Scheme: "http", Host: "h"}, &url.URL{Scheme: "http", Host: "h"}, "http://[::1"); err == nil {
		t.Error("a link that is no URL reference: no error; expected one")
	}
}

// TestPageURLRefusesALinkToAnotherOrigin: follow took a next link to
// another origin (<http://other:81/events?…>, <//other/…>, another scheme
// or port) as it was, and read that server's pages as the server's under
// test: the measure and the check of its order were another's, and the
// tool, whose traffic goes to the server it starts only, sent requests
// elsewhere. Such a link is now an error naming it, nothing sent there.
func TestPageURLRefusesALinkToAnotherOrigin(t *testing.T) {
	t.Parallel()
	base := &url.URL{Scheme: "http", Host: "127.0.0.1:8080"}
	page := &url.URL{Scheme: "http", Host: "127.0.0.1:8080", Path: "/events", RawQuery: "limit=2"}
	for _, ref := range []string{
		"http://other:81/events?after=2",
		"//other/events?after=2",
		"http://127.0.0.1:8081/events?after=2",
		"https://127.0.0.1:8080/events?after=2",
		"http://127.0.0.2:8080/events?after=2",
	} {
		if got, err := pageURL(base, page, ref); err == nil || !strings.Contains(err.Error(), "another origin") {
			t.Errorf("<%s>: %v, %v; expected an error saying it names another origin", ref, got, err)
		}
	}
}

// TestFollowReadsUnderABaseURLWithAPathAndASlash: follow, against a server
// behind a prefix (/tributary/, the trailing slash given) whose next links
// are written from its root, relative to the page, or absolute, reads
// every page under the prefix.
func TestFollowReadsUnderABaseURLWithAPathAndASlash(t *testing.T) {
	t.Parallel()
	event := func(position int) string {
		return fmt.Sprintf(`{"id":"0193a3c4-5b6d-7e8f-9a0b-%012d","stream_id":"0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b","stream_type":"order","version":%d,"position":%d,`+
			`"type":"ItemAdded","data":{},"recorded_at":"2026-12-06T03:00:00.000001Z"}`, position, position, position)
	}
	var wrong atomic.Value
	var srv *httptest.Server
	srv = httptest.NewServer(http.StripPrefix("/tributary", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		next := map[string]string{
			"/events?limit=1000": "</events?after=1>",
			"/events?after=1":    "<?after=2>",
			"/events?after=2":    "<" + srv.URL + "/tributary/events?after=3>",
			"/events?after=3":    "",
		}
		link, ok := next[r.URL.RequestURI()]
		if !ok {
			wrong.Store(r.URL.RequestURI())
			http.NotFound(w, r)
			return
		}
		if link != "" {
			w.Header().Set("Link", link+`; rel="next"`)
		}
		n := len(strings.Split(r.URL.RawQuery, "after=")) // 1, 2, 2, 2
		pos := 1
		if n == 2 {
			fmt.Sscanf(r.URL.RawQuery, "after=%d", &pos) //nolint:errcheck // the test's own query
			pos++
		}
		io.WriteString(w, `{"events":[`+event(pos)+`]}`) //nolint:errcheck // a test's answer
	})))
	t.Cleanup(srv.Close)
	svc := newServiceSide(srv.URL + "/tributary/")
	t.Cleanup(svc.close)
	n, err := svc.follow(context.Background(), "/events?limit=1000", 10)
	if n != 4 || err != nil {
		t.Errorf("follow under %s/tributary/: read %d events, %v (a request for %v); expected 4, each page under the prefix", srv.URL, n, err, wrong.Load())
	}
}

// TestFollowRefusesARedirectToAnotherOrigin: the tool's http.Client
// followed net/http's default, a redirect to any host: a read redirected
// elsewhere was read, timed and checked as the measured server's, as a
// next link there was before. A redirect to another origin is now an
// error, nothing sent there.
func TestFollowRefusesARedirectToAnotherOrigin(t *testing.T) {
	t.Parallel()
	var strayed atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strayed.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"events":[]}`) //nolint:errcheck // a test's answer
	}))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	svc := newServiceSide(srv.URL)
	t.Cleanup(svc.close)
	n, err := svc.follow(context.Background(), "/events?limit=1000", 10)
	if err == nil || !strings.Contains(err.Error(), "another origin") || strayed.Load() != 0 {
		t.Errorf("follow redirected to %s: read %d events, %v, %d requests there; expected an error saying it is another origin, nothing sent there", other.URL, n, err, strayed.Load())
	}
}

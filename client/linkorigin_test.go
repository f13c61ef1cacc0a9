package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestANextLinkToAnotherOriginIsRefused: a next link that names another
// origin (another host, scheme or port, absolute or scheme-relative
// <//host/…>) was taken for its path and query on the server's origin
// and followed there, with the token: a link a proxy wrote for a public
// URL the client was not given, or a server's that points elsewhere, was
// silently read as another resource of the server. The read now ends
// at that page, as at any next link it cannot follow, with an error that
// says the link names another origin, and sends nothing for it.
func TestANextLinkToAnotherOriginIsRefused(t *testing.T) {
	t.Parallel()
	expectNextLinksRefused(t, "", []string{
		"http://elsewhere.invalid/events?after=1",
		"//elsewhere.invalid/events?after=1",
		"https://{host}/events?after=1",
		"http://{hostname}:1/events?after=1",
	}, func(srv *httptest.Server, form string) string {
		return strings.NewReplacer("{host}", srv.Listener.Addr().String(), "{hostname}", "127.0.0.1").Replace(form)
	}, func(r *http.Request) bool { return r.URL.RawQuery != "" },
		"another origin")
}

// TestANextLinkWhosePathBeginsWithTwoSlashesIsAskedForAsWritten: a next
// link on the server's origin whose path begins with // (<http://host//x/events?…>)
// was joined to the base URL by parsing its path again, which read //x
// as a host name: the name was dropped and the read asked for /events,
// another resource than the link's. The path is now kept as written,
// under the base URL's path.
func TestANextLinkWhosePathBeginsWithTwoSlashesIsAskedForAsWritten(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"", "/tributary"} {
		t.Run(prefix, func(t *testing.T) {
			t.Parallel()
			var wrong atomic.Value
			var srv *httptest.Server
			pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				switch r.URL.RequestURI() {
				case "/events":
					w.Header().Set("Link", "<"+srv.URL+"//x/events?after=1>; rel=\"next\"")
					io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
				case "//x/events?after=1":
					io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
				default:
					answerNotFound(w, r, &wrong)
				}
			})
			var h http.Handler = pages
			if prefix != "" {
				h = http.StripPrefix(prefix, pages)
			}
			srv = testServer(t, h.ServeHTTP)
			c := newClient(t, srv.URL+prefix)
			got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
			if fmt.Sprint(got) != "[1 2]" || err != nil {
				t.Errorf("base path %q: read %v, then %v (a request for %v); expected [1 2], the second page from %s//x/events?after=1",
					prefix, got, err, wrong.Load(), prefix)
			}
		})
	}
}

// expectNextLinksRefused runs a parallel subtest for each of links: it
// serves pages of one event whose next link is fill(srv, link), reads them
// all through a client with a token at the server's URL and basePath, and
// fails unless the read got no event, ended with an error containing
// want, and sent no request that stray counts (one for the refused link).
func expectNextLinksRefused(t *testing.T, basePath string, links []string, fill func(*httptest.Server, string) string, stray func(*http.Request) bool, want string) {
	t.Helper()
	for _, link := range links {
		t.Run(link, func(t *testing.T) {
			t.Parallel()
			var strayed atomic.Int64
			var srv *httptest.Server
			srv = testServer(t, func(w http.ResponseWriter, r *http.Request) {
				if stray(r) {
					strayed.Add(1)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Link", "<"+fill(srv, link)+`>; rel="next"`)
				io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
			})
			c := newClient(t, srv.URL+basePath, WithToken("t0k"))
			got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
			if len(got) != 0 || err == nil || !strings.Contains(err.Error(), want) || strayed.Load() != 0 {
				t.Errorf("Link <%s>: read %v, then %v, %d requests for it; expected no event, the link refused with an error saying %q, and no request for it",
					fill(srv, link), got, err, strayed.Load(), want)
			}
		})
	}
}

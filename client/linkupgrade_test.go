package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestANextLinkToTheHTTPSUpgradeOfTheServerIsFollowed: a server given as
// http://host that redirects its reads to https on the same host (an
// upgrade, where the token may go) and writes its next links absolute, as
// a proxy that knows its public https URL writes them
// (<https://host/events?after=1>), was refused as naming another origin:
// every read through it failed at its first page, where a relative link
// went on. Such a link is now taken for its path and query on the server's
// origin, as a relative link on a redirected page is, which redirects it
// again; the token goes with it. A link to another host still is refused
// (TestANextLinkToAnotherOriginIsRefused).
func TestANextLinkToTheHTTPSUpgradeOfTheServerIsFollowed(t *testing.T) {
	t.Parallel()
	var secure *httptest.Server
	secure = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.RawQuery == "" {
			w.Header().Set("Link", "<"+secure.URL+`/events?after=1>; rel="next"`)
			io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
			return
		}
		io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
	}))
	t.Cleanup(secure.Close)
	var plain atomic.Int64 // requests to the server as given, each redirected
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		plain.Add(1)
		http.Redirect(w, r, secure.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	c := newClient(t, srv.URL, WithHTTPClient(secure.Client()), WithToken("t0k"))
	got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
	if fmt.Sprint(got) != "[1 2]" || err != nil || plain.Load() != 2 {
		t.Errorf("read %v, then %v, %d requests to the server as given; expected [1 2], each page asked of the server as given (2), which redirected it", got, err, plain.Load())
	}
}

package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestANextLinkAnchoredToItsOwnPageIsFollowed: a link's anchor parameter
// sets its context (RFC 8288 §3.2); one that names the page the link came
// on, written absolute (anchor="http://host/events", the host in any case),
// as a path (anchor="/events") or relative (anchor="events"), leaves the
// context the page's, and the link is the page's next. The client skipped
// every anchored link but anchor="", and a read of the log ended at the
// first page, as if the log ended there, without an error. It now follows
// such a link, and still skips one anchored to another resource.
func TestANextLinkAnchoredToItsOwnPageIsFollowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		anchor string
		want   string
	}{
		{"{base}/events", "[1 2]"},
		{"{BASE}/events", "[1 2]"},
		{"/events", "[1 2]"},
		{"events", "[1 2]"},
		{"./events", "[1 2]"},
		{"/%65vents", "[1 2]"}, // %65 is e (RFC 3986 §6.2.2.2)
		{"/other", "[1]"},
		{"/events?after=7", "[1]"},
		{"{other}/events", "[1]"},
		{"http://localhost:1/events", "[1]"},
	} {
		t.Run(tc.anchor, func(t *testing.T) {
			t.Parallel()
			var srv *httptest.Server
			srv = testServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.RawQuery == "" {
					base := "localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
					anchor := strings.NewReplacer("{base}", "http://"+base, "{BASE}", "HTTP://"+strings.ToUpper(base), "{other}", srv.URL).Replace(tc.anchor)
					w.Header().Set("Link", `</events?after=1>; rel="next"; anchor="`+anchor+`"`)
					io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
					return
				}
				io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
			})
			base := "http://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
			c := newClient(t, base)
			got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
			if fmt.Sprint(got) != tc.want || err != nil {
				t.Errorf("next link anchored to %s on /events: read %v, then %v; expected %s and no error", tc.anchor, got, err, tc.want)
			}
		})
	}
}

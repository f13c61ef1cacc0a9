package client

import (
	"context"
	"io"
	"net/http"
	"path"
	"strings"
	"sync/atomic"
	"testing"
)

// TestANextLinkThatLeavesTheBasePathIsRefused: behind a base URL with a
// path (http://host/a/, one of two services on one origin, /a/ and /b/),
// a next link that climbs out of it, relative (<../b/events?…>) or with
// dot segments in an absolute path (</../b/events?…>, which a proxy
// normalises, escaped or not), was followed with the token: service a's
// token went to service b. The read now ends with an error saying the
// link leaves the base URL's path, and sends nothing for it.
func TestANextLinkThatLeavesTheBasePathIsRefused(t *testing.T) {
	t.Parallel()
	for _, link := range []string{"../b/events?after=1", "/../b/events?after=1", "/%2e%2e/b/events?after=1", "./../../b/events?after=1", "/x%2F..%2F..%2Fb/events?after=1"} {
		t.Run(link, func(t *testing.T) {
			t.Parallel()
			var outside atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				if p := path.Clean(r.URL.Path); p != "/a" && !strings.HasPrefix(p, "/a/") {
					outside.Add(1)
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Link", "<"+link+`>; rel="next"`)
				io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
			})
			c := newClient(t, srv.URL+"/a/", WithToken("t0k"))
			got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
			if len(got) != 0 || err == nil || !strings.Contains(err.Error(), "base URL's path") || outside.Load() != 0 {
				t.Errorf("Link %s: read %v, then %v, %d requests outside /a/; expected no event, the link refused with an error saying it leaves the base URL's path, and no request for it",
					link, got, err, outside.Load())
			}
		})
	}
}

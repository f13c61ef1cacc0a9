package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestANextLinkThatLeavesAnEscapedBasePathIsRefused: behind a base URL
// whose path holds an escaped slash (http://host/tenants/acme%2Fprod/, one
// segment), a next link that climbs out of it and back into the path that
// reads the same unescaped (/tenants/acme/prod/…, three segments: another
// resource, which a proxy resolving dot segments reaches) was taken for
// one under the base path: the check compared unescaped paths, where
// acme%2Fprod and acme/prod are one. The token went to the other path.
// The read now ends with an error saying the link leaves the base URL's
// path; a link that stays in it, its escapes written in lower case, is
// followed.
func TestANextLinkThatLeavesAnEscapedBasePathIsRefused(t *testing.T) {
	t.Parallel()
	expectNextLinksRefused(t, "/tenants/acme%2Fprod/", []string{
		"../../tenants/acme/prod/events?after=1",
		"/../../../tenants/acme/prod/events?after=1",
		"/%2e%2e/%2E%2E/.%2e/tenants/acme/prod/events?after=1",
		"{origin}/../../../tenants/acme/prod/events?after=1",
	}, func(srv *httptest.Server, link string) string { return strings.ReplaceAll(link, "{origin}", srv.URL) },
		func(r *http.Request) bool { return !underEscaped(r.URL.EscapedPath(), "/tenants/acme%2Fprod") },
		"base URL's path")
	t.Run("staying", func(t *testing.T) {
		t.Parallel()
		var outside atomic.Int64
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			if !underEscaped(r.URL.EscapedPath(), "/tenants/acme%2Fprod") {
				outside.Add(1)
			}
			w.Header().Set("Content-Type", "application/json")
			if r.URL.RawQuery == "" {
				w.Header().Set("Link", `<../acme%2fprod/./events?after=1>; rel="next"`)
				io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
				return
			}
			io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
		})
		c := newClient(t, srv.URL+"/tenants/acme%2Fprod/")
		got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
		if len(got) != 2 || err != nil || outside.Load() != 0 {
			t.Errorf("Link <../acme%%2fprod/./events?after=1>: read %v, then %v, %d requests outside the base path; expected [1 2], the link followed under it", got, err, outside.Load())
		}
	})
}

// underEscaped reports whether the escaped path p, its dot segments
// resolved as a proxy resolves them (escaped or not), is base or under it,
// segment by segment: acme%2Fprod is one segment, acme/prod two.
func underEscaped(p, base string) bool {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch strings.ToLower(s) {
		case "", ".", "%2e":
		case "..", "%2e%2e", ".%2e", "%2e.":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, strings.ToLower(s))
		}
	}
	resolved := "/" + strings.Join(segs, "/")
	base = strings.ToLower(base)
	return resolved == base || strings.HasPrefix(resolved, base+"/")
}

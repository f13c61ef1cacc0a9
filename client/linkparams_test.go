package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	gopath "path"
	"strings"
	"sync/atomic"
	"testing"
)

// TestANextLinkThatLeavesTheBasePathByPathParametersIsRefused: a next link
// whose dot segments carry a path parameter (</a/..;/b/events?…>,
// <..;x/b/events?…>) was taken for one under the base URL's path
// (http://host/a/): ..; is a segment like any other to RFC 3986, but
// Tomcat, Jetty and the servlet proxies in front of them drop a segment's
// parameters (;…) before they resolve dot segments, and read it as /b/…,
// another service's path on the origin, which got the token. Such a link
// now ends the read with an error saying it leaves the base URL's path,
// nothing sent for it; a link with parameters that stays under the path
// read either way is followed.
func TestANextLinkThatLeavesTheBasePathByPathParametersIsRefused(t *testing.T) {
	t.Parallel()
	expectNextLinksRefused(t, "/a/", []string{
		"/..;/b/events?after=1",
		"..;/b/events?after=1",
		"/..;x=1/b/events?after=1",
		"/x/..;/..;/b/events?after=1",
		"/%2e%2e;/b/events?after=1",
		"{origin}/a/..;/..;/b/events?after=1",
		`/..;\b/events?after=1`,
	}, func(srv *httptest.Server, link string) string { return strings.ReplaceAll(link, "{origin}", srv.URL) },
		func(r *http.Request) bool { return !underParamless(r.URL.Path, "/a") },
		"base URL's path")
	t.Run("staying", func(t *testing.T) {
		t.Parallel()
		var outside atomic.Int64
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			if !underParamless(r.URL.Path, "/a") {
				outside.Add(1)
			}
			w.Header().Set("Content-Type", "application/json")
			if r.URL.RawQuery == "" {
				w.Header().Set("Link", `<x;v=1/..;/events;v=1?after=1>; rel="next"`)
				io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
				return
			}
			io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
		})
		c := newClient(t, srv.URL+"/a/")
		got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
		if fmt.Sprint(got) != "[1 2]" || err != nil || outside.Load() != 0 {
			t.Errorf("Link <x;v=1/..;/events;v=1?after=1>: read %v, then %v, %d requests outside the base path; expected [1 2], the link followed under it", got, err, outside.Load())
		}
	})
}

// underParamless reports whether the unescaped path p, read as a servlet
// container reads it (each segment's parameters dropped, a backslash a
// slash), its dot segments resolved, is base or under it.
func underParamless(p, base string) bool {
	segs := strings.Split(strings.ReplaceAll(p, `\`, "/"), "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	p = gopath.Clean("/" + strings.Join(segs, "/"))
	return p == base || strings.HasPrefix(p, base+"/")
}

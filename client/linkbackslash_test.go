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

// TestANextLinkThatLeavesTheBasePathByBackslashesIsRefused: a next link
// whose dot segments are separated by backslashes, escaped (%5C, %5c) or
// not (</a/..\..\b/events?…>), was taken for one under the base URL's path
// (http://host/a/): the check split paths at slashes only, where
// ..%5C..%5Cb is one segment. A proxy or server that reads a backslash as
// a slash, as IIS, some WAFs and every browser's URL parser do, resolves
// it to /b/…, another service's path on the origin, and the token went
// there. Such a link now ends the read with an error saying it leaves the
// base URL's path, nothing sent for it; a link that stays under the path
// read either way is followed.
func TestANextLinkThatLeavesTheBasePathByBackslashesIsRefused(t *testing.T) {
	t.Parallel()
	expectNextLinksRefused(t, "/a/", []string{
		"/..%5C..%5Cb/events?after=1",
		"..%5cb/events?after=1",
		`..\b/events?after=1`,
		`/..\..\b/events?after=1`,
		"/%2e%2e%5C%2E%2E%5Cb/events?after=1",
		"{origin}/a/..%5C..%5Cb/events?after=1",
		"/..%5C..%2Fb/events?after=1",
	}, func(srv *httptest.Server, link string) string { return strings.ReplaceAll(link, "{origin}", srv.URL) },
		func(r *http.Request) bool { return !underBackslashed(r.URL.Path, "/a") },
		"base URL's path")
	t.Run("staying", func(t *testing.T) {
		t.Parallel()
		var outside atomic.Int64
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			if !underBackslashed(r.URL.Path, "/a") {
				outside.Add(1)
			}
			w.Header().Set("Content-Type", "application/json")
			if r.URL.RawQuery == "" {
				w.Header().Set("Link", `<x%5C..%5Cevents?after=1>; rel="next"`)
				io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
				return
			}
			io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
		})
		c := newClient(t, srv.URL+"/a/")
		got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
		if fmt.Sprint(got) != "[1 2]" || err != nil || outside.Load() != 0 {
			t.Errorf("Link <x%%5C..%%5Cevents?after=1>: read %v, then %v, %d requests outside the base path; expected [1 2], the link followed under it", got, err, outside.Load())
		}
	})
}

// underBackslashed reports whether the unescaped path p, read as a
// server that takes a backslash for a slash reads it, its dot segments
// resolved, is base or under it.
func underBackslashed(p, base string) bool {
	p = gopath.Clean("/" + strings.ReplaceAll(p, `\`, "/"))
	return p == base || strings.HasPrefix(p, base+"/")
}

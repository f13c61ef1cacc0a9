package http_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAConnectToAHostIsRefusedAsNotServedHere: CONNECT evil:443 (the
// authority form a client sends a proxy) has no path, which the router
// took for "/": it was answered 405 with an empty Allow and the detail
// "CONNECT is not allowed on " (a black-box tester). It is a 400 problem
// saying CONNECT is not served here, naming the target as sent, with no
// Allow; a CONNECT to a path of the API stays a 405 listing its methods.
func TestAConnectToAHostIsRefusedAsNotServedHere(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	for _, tc := range []struct {
		target, host string
		status       int
		allow        string
		says         string
	}{
		{"evil:443", "evil:443", http.StatusBadRequest, "", "CONNECT evil:443 is not served here"},
		{"[::1]:443", "[::1]:443", http.StatusBadRequest, "", "CONNECT [::1]:443 is not served here"},
		{"/streams", "test", http.StatusMethodNotAllowed, "GET, HEAD, OPTIONS", "CONNECT is not allowed on /streams"},
	} {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), 5*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // bounds a hang only
		if _, err := io.WriteString(c, "CONNECT "+tc.target+" HTTP/1.1\r\nHost: "+tc.host+"\r\n\r\n"); err != nil {
			t.Fatalf("CONNECT %s: send: %v", tc.target, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("CONNECT %s: read the answer: %v", tc.target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		var p struct{ Detail string }
		_ = json.Unmarshal(body, &p)
		allow, hasAllow := resp.Header["Allow"]
		switch {
		case resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/problem+json":
			t.Errorf("CONNECT %s: %d %q %s; want a %d problem", tc.target, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status)
		case tc.allow == "" && hasAllow:
			t.Errorf("CONNECT %s: Allow %q; want none (no resource there has methods to list)", tc.target, allow)
		case tc.allow != "" && resp.Header.Get("Allow") != tc.allow:
			t.Errorf("CONNECT %s: Allow %q; want %q", tc.target, resp.Header.Get("Allow"), tc.allow)
		case !strings.Contains(p.Detail, tc.says):
			t.Errorf("CONNECT %s: detail %q; want it to say %q", tc.target, p.Detail, tc.says)
		}
	}
}

// TestAnyMethodOnAPathNoRouteServesIs404: a method the router serves on no
// path (FOO, PUT, DELETE) on a path no route serves was answered 405 with
// an empty Allow (chi sends every method it has no route for to its 405),
// where openapi.yaml says a path not listed is 404 whatever the method (a
// review found it). On a path the API serves it stays a 405 with the
// path's methods.
func TestAnyMethodOnAPathNoRouteServesIs404(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"FOO", "/x", http.StatusNotFound, ""},
		{"PUT", "/nothing/here", http.StatusNotFound, ""},
		{"DELETE", "/streams/x/y/z", http.StatusNotFound, ""},
		{"FOO", "/streams", http.StatusMethodNotAllowed, "GET, HEAD, OPTIONS"},
		{"PUT", "/events", http.StatusMethodNotAllowed, "GET, HEAD, OPTIONS"},
	} {
		r := s.do(tc.method, tc.path, "")
		allow, hasAllow := r.header["Allow"]
		switch {
		case r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json":
			t.Errorf("%s %s: %d %q %s; want a %d problem", tc.method, tc.path, r.status, r.header.Get("Content-Type"), r.body, tc.status)
		case tc.allow == "" && hasAllow:
			t.Errorf("%s %s: Allow %q; want none", tc.method, tc.path, allow)
		case tc.allow != "" && r.header.Get("Allow") != tc.allow:
			t.Errorf("%s %s: Allow %q; want %q", tc.method, tc.path, r.header.Get("Allow"), tc.allow)
		}
	}
}

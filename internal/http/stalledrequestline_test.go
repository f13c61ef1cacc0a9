package http_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARequestStalledBeforeItsHeadersEndIsAnsweredAsREADMESays: what a
// request cut off by TRIBUTARY_READ_HEADER_TIMEOUT meets is Go's server's,
// before any of Tributary's code sees it, and README's Errors section and
// the variable's row say it: a request line still unfinished gets
// net/http's plain-text 400 (its reader takes what came for the whole
// line, which is then malformed), not a problem; one stalled in its header
// lines, its request line whole, is closed with no answer. Pinned here so
// that the README is told when Go changes either.
func TestARequestStalledBeforeItsHeadersEndIsAnsweredAsREADMESays(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{}))
	srv.Config.ReadHeaderTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ sent, want string }{
		{"GET /heal", "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"},
		{"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b", ""},
		{"GET /healthz HTTP/1.1\r\nHost: x\r\n", ""},
	} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, tc.sent); err != nil {
			t.Fatal(err)
		}
		// Until the server closes it, after its timeout; the deadline
		// only keeps a server that never does from hanging the test.
		c.SetReadDeadline(time.Now().Add(time.Minute)) //nolint:errcheck
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("%q, stalled: %q (%v); want %q and the connection closed", tc.sent, got, err, tc.want)
		}
	}
	// A whole request on the same server is served as ever.
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d; want 200", resp.StatusCode)
	}
}

// TestAContentLengthGosServerCannotReadGetsItsPlainText400: README's
// Errors section listed a negative Content-Length, or two different ones,
// among what Go's server refuses before any of Tributary's code sees it;
// one that is no number (abc, +5, 1 2) is refused alike, as are a header
// name that is no token and a control character in a value. Each gets
// net/http's plain-text 400, no problem, as README now says.
func TestAContentLengthGosServerCannotReadGetsItsPlainText400(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{}))
	t.Cleanup(srv.Close)
	for _, h := range []string{"Content-Length: -1", "Content-Length: abc", "Content-Length: +5", "Content-Length: 1 2",
		"Content-Length: 1\r\nContent-Length: 2", "Bad Name: x", "X-A: a\x01b"} {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "POST /streams/0190a1a2-0000-7000-8000-0000000000e2/events HTTP/1.1\r\nHost: x\r\n"+h+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Minute)) //nolint:errcheck // only against a server that never closes
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || !strings.HasPrefix(string(got), "HTTP/1.1 400 Bad Request") || !strings.Contains(string(got), "Content-Type: text/plain; charset=utf-8\r\n") {
			t.Errorf("a request with %q: %q (%v); want net/http's plain-text 400", h, got, err)
		}
	}
}

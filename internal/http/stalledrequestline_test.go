package http_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

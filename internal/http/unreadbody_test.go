package http_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARequestWhoseBodyNoRouteReadsIsAnsweredWithoutWaitingForIt: a GET,
// HEAD or OPTIONS that said it had a body (Content-Length, or chunked) and
// did not send it was answered only once the body came or the server's
// ReadTimeout (60 s) passed: net/http reads what is left of a body the
// handler did not read before it sends a kept-alive answer. A probe, a
// preflight, a read waited that long, counted in flight and holding a
// stop's drain; a 404 or 405 did not (closeUnread). The answer is sent at
// once and says Connection: close. The server's ReadTimeout is a minute:
// only that fix can answer before the client's wait ends. On both stores
// (a read of the log, a stream's).
func TestARequestWhoseBodyNoRouteReadsIsAnsweredWithoutWaitingForIt(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewUnstartedServer(esthttp.New(k.Open(t), esthttp.Options{}))
		srv.Config.ReadTimeout = time.Minute
		srv.Start()
		t.Cleanup(srv.Close)
		stream := "/streams/" + uuid.NewString()
		for _, c := range []struct{ method, path, framing string }{
			{http.MethodGet, "/healthz", "Content-Length: 1000"},
			{http.MethodGet, "/", "Content-Length: 1000"},
			{http.MethodGet, "/events", "Content-Length: 1000"},
			{http.MethodGet, "/events", "Transfer-Encoding: chunked"},
			{http.MethodHead, "/healthz", "Content-Length: 1000"},
			{http.MethodOptions, stream + "/events", "Content-Length: 1000"},
			{http.MethodOptions, "/events", "Transfer-Encoding: chunked"},
		} {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			if _, err := io.WriteString(conn, c.method+" "+c.path+" HTTP/1.1\r\nHost: test\r\n"+c.framing+"\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // well before the server's ReadTimeout
			resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: c.method})
			if err != nil {
				t.Errorf("%s %s with %s and no body sent: no answer (%v); want it answered without waiting for the body", c.method, c.path, c.framing, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 || !resp.Close {
				t.Errorf("%s %s with %s and no body sent: %d, Connection %q; want its answer, closing the connection",
					c.method, c.path, c.framing, resp.StatusCode, resp.Header.Get("Connection"))
			}
		}
	})
}

// TestARequestWhoseBodyNoRouteReadsKeepsItsConnectionWhenTheBodyWasSent:
// the answer to a GET, HEAD or OPTIONS that said it had a body said
// Connection: close whether or not the body came (the fix above closed
// them all): a client that sends one whole, as net/http keeps such a
// connection (it drains a small body no handler read), lost its
// connection at each request. A body sent whole keeps the connection; one
// sent in part, or past what net/http would drain, still closes it. Two
// requests on one connection, on both stores.
func TestARequestWhoseBodyNoRouteReadsKeepsItsConnectionWhenTheBodyWasSent(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewUnstartedServer(esthttp.New(k.Open(t), esthttp.Options{}))
		srv.Config.ReadTimeout = time.Minute
		srv.Start()
		t.Cleanup(srv.Close)
		stream := "/streams/" + uuid.NewString()
		large := strings.Repeat("x", 64<<10)
		tooLarge := strings.Repeat("x", 300<<10)
		for _, c := range []struct {
			method, path, framing, body string
			kept                        bool
		}{
			{http.MethodGet, "/healthz", "Content-Length: 5", "hello", true},
			{http.MethodGet, "/events", "Content-Length: 5", "hello", true},
			{http.MethodGet, "/events", "Transfer-Encoding: chunked", "5\r\nhello\r\n0\r\n\r\n", true},
			{http.MethodGet, stream + "/events", "Content-Length: 5", "hello", true},
			{http.MethodGet, "/events", "Content-Length: " + strconv.Itoa(len(large)), large, true},
			{http.MethodHead, "/healthz", "Content-Length: 5", "hello", true},
			{http.MethodOptions, stream + "/events", "Content-Length: 5", "hello", true},
			{http.MethodGet, "/healthz", "Content-Length: 1000", "only ten.", false},
			{http.MethodGet, "/events", "Transfer-Encoding: chunked", "5\r\nhel", false},
			{http.MethodGet, "/events", "Content-Length: " + strconv.Itoa(len(tooLarge)), tooLarge, false},
		} {
			what := fmt.Sprintf("%s %s with %s and %d bytes of body sent", c.method, c.path, c.framing, len(c.body))
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second)) // well before the server's ReadTimeout
			br := bufio.NewReader(conn)
			// Sent beside the read: a body past what the server reads
			// may be left unsent, its connection closed.
			sent := make(chan error, 1)
			go func() {
				_, err := io.WriteString(conn, c.method+" "+c.path+" HTTP/1.1\r\nHost: test\r\n"+c.framing+"\r\n\r\n"+c.body)
				sent <- err
			}()
			resp, err := http.ReadResponse(br, &http.Request{Method: c.method})
			if err != nil {
				t.Errorf("%s: no answer (%v); want one", what, err)
				continue
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // a test's read
			resp.Body.Close()
			if resp.StatusCode >= 500 || resp.Close == c.kept {
				t.Errorf("%s: %d, Connection %q; want its answer, the connection kept: %v", what, resp.StatusCode, resp.Header.Get("Connection"), c.kept)
				continue
			}
			if !c.kept {
				continue
			}
			if err := <-sent; err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err = http.ReadResponse(br, nil)
			if err != nil {
				t.Errorf("%s: the next request on its connection: %v; want it answered", what, err)
				continue
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: the next request on its connection: %d; want 200", what, resp.StatusCode)
			}
		}
	})
}

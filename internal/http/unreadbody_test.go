package http_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

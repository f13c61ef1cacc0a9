package http

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestAPipelinedRequestInItsHandlerIsNotClosedForANewConnection: a
// review asked whether a pipelined request, which net/http parses from its
// buffer without reading the connection, leaves the connection listed idle
// (kept alive) while its handler runs (an append, a subscription), to be
// closed under it for a new connection at the bound. It does not: net/http
// (go1.26, conn.serve) says StateActive after every request it parses,
// read from the wire or not, and the connection is off the lists. This
// holds it so (from review2http): a change of net/http that broke it would
// lose appends' answers.
func TestAPipelinedRequestInItsHandlerIsNotClosedForANewConnection(t *testing.T) {
	conns := NewConnections(1, 1, slog.New(slog.DiscardHandler), nil)
	s := New(nil, Options{Logger: slog.New(slog.DiscardHandler)})
	inHandler, release := make(chan struct{}, 1), make(chan struct{})
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			inHandler <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		io.WriteString(w, "ok") //nolint:errcheck
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: s, ConnState: conns.ConnState, ConnContext: ConnContext}
	go srv.Serve(conns.Listener(ln)) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	// Both requests in one write: net/http reads them at once, and parses
	// the second from its buffer.
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /block HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("send two pipelined requests: %v", err)
	}
	select {
	case <-inHandler:
	case <-time.After(10 * time.Second):
		t.Fatal("the pipelined request's handler did not begin within 10 s")
	}

	late, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial a new connection: %v", err)
	}
	t.Cleanup(func() { late.Close() })
	if _, err := io.WriteString(late, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatalf("send on the new connection: %v", err)
	}
	late.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	resp, err := http.ReadResponse(bufio.NewReader(late), nil)
	if err != nil {
		t.Fatalf("read the new connection's answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a new connection at the bound while the only one runs a pipelined request's handler: %d; want 503, nothing to close", resp.StatusCode)
	}

	close(release)
	c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	r := bufio.NewReader(c)
	for i, path := range []string{"/", "/block"} {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("the answer %d of the pipelined requests (GET %s): %v; want both answered, the connection not closed under its handler", i+1, path, err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s pipelined: %d; want 200", path, resp.StatusCode)
		}
	}
}

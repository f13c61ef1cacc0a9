package http_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnswersDuringTheShutdownDelayCloseTheirConnection: during the
// shutdown delay (Stopping, /readyz already 503) answers on kept-alive
// connections said nothing of the stop, so pooled clients kept sending
// there until the drain closed their idle connections under them, racing
// it (an append already written is not retried by Go's client). Each
// answer once Stopping was called now says Connection: close, and the
// server closes the connection after it, so that the client opens its next
// one to another instance; the answer is served as before. On a raw
// kept-alive connection to a server on the bounded listener, as the binary
// runs.
func TestAnswersDuringTheShutdownDelayCloseTheirConnection(t *testing.T) {
	t.Parallel()
	h, addr, c, br := serveOnBoundedListener(t)
	// exchange sends one request on the kept-alive connection and reads its answer.
	exchange := func(what, req string) *http.Response {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatalf("%s: write: %v", what, err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // a hang guard
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", what, err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // read to its end for the next answer
		resp.Body.Close()
		return resp
	}
	const body = `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	appendReq := func() string {
		return "POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
	}

	if resp := exchange("an append before Stopping", appendReq()); resp.StatusCode != http.StatusCreated || resp.Close {
		t.Fatalf("an append before Stopping: %d, Connection: close %v; want 201 on a connection kept", resp.StatusCode, resp.Close)
	}
	if resp := exchange("a read before Stopping", "GET /events HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("a read before Stopping: %d, Connection: close %v; want 200 on a connection kept", resp.StatusCode, resp.Close)
	}

	h.Stopping()
	if resp := exchange("an append once stopping", appendReq()); resp.StatusCode != http.StatusCreated || !resp.Close {
		t.Errorf("an append once stopping, on a kept-alive connection: %d, Connection: close %v; want 201 with Connection: close",
			resp.StatusCode, resp.Close)
	}
	// The server closes the connection after the answer: the client reads
	// its end, not a wait for more.
	expectClosedByServer(t, "after the answer once stopping", c, br)

	// Every answer says so on a new connection too, /readyz's 503 included.
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"a read", "GET /events HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusOK},
		{"readyz", "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusServiceUnavailable},
		{"a path not served", "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", http.StatusNotFound},
	} {
		answers, closed := exchangeAll(t, addr, tc.req+"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
		if len(answers) != 1 || answers[0].status != tc.status || !answers[0].close || !closed {
			t.Errorf("%s once stopping: %v, connection closed %v; want one %d with Connection: close, the connection closed after it",
				tc.name, answers, closed, tc.status)
		}
	}
}

// serveOnBoundedListener serves a handler on a SQLite store behind the
// bounded listener, as the binary runs, and dials one kept-alive raw
// connection to it; all are closed at the test's end.
func serveOnBoundedListener(t *testing.T) (*esthttp.Server, string, net.Conn, *bufio.Reader) {
	t.Helper()
	h := esthttp.New(teststore.SQLite.Open(t), esthttp.Options{Logger: slog.New(slog.DiscardHandler)})
	conns := esthttp.NewConnections(100, 100, slog.New(slog.DiscardHandler), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: h, ConnState: conns.ConnState, ConnContext: esthttp.ConnContext}
	go srv.Serve(conns.Listener(ln)) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return h, ln.Addr().String(), c, bufio.NewReader(c)
}

// expectClosedByServer fails the test unless the next read on c finds the
// connection closed by the server (EOF), not a wait for more.
func expectClosedByServer(t *testing.T, what string, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // a hang guard
	if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("%s: read %d bytes, %v; want the connection closed by the server (EOF)", what, n, err)
	}
}

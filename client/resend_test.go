package client

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestAppendIsSentAgainWhenItsKeptAliveConnectionWasClosed: a server, or
// a proxy in front (an idle timeout shorter than the client's 90 s),
// that closes a kept-alive connection as the client sends its next
// request on it made Append fail with EOF, "whether the events are stored
// is unknown", where a GET is sent again on a new connection by net/http
// itself: it does so only for a request it knows to be idempotent. An
// append is, its event ids being the same in every sending of the call's
// body (the server stores the batch once, and answers a repeat with 200),
// and now says so to net/http (an Idempotency-Key field of no value,
// which is not sent): the append is sent again on a new connection.
func TestAppendIsSentAgainWhenItsKeptAliveConnectionWasClosed(t *testing.T) {
	t.Parallel()
	var appends, unanswered atomic.Int64
	var headers atomic.Value
	res, err := appendOnAKeptAliveConn(t, func(conn net.Conn, req *http.Request) bool {
		// The append on the kept-alive connection is read and the
		// connection closed without an answer; on the new connection
		// it is answered.
		if unanswered.Load() == 0 {
			io.Copy(io.Discard, req.Body) //nolint:errcheck // a test's server
			unanswered.Add(1)
			return false
		}
		appends.Add(1)
		headers.Store(req.Header.Clone())
		body := storedAnswer(t, req)
		fmt.Fprintf(conn, "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body) //nolint:errcheck // a test's server
		return true
	})
	if err != nil || res.Version != 1 {
		t.Fatalf("Append on a connection the server closed = %+v, %v; expected it sent again on a new one, and stored", res, err)
	}
	if unanswered.Load() != 1 || appends.Load() != 1 {
		t.Errorf("the server left %d requests unanswered and answered %d appends; expected the append once each", unanswered.Load(), appends.Load())
	}
	if h := headers.Load().(http.Header); h.Get("Idempotency-Key") != "" || len(h.Values("Idempotency-Key")) != 0 {
		t.Errorf("the append was sent with Idempotency-Key %q; expected the field not sent", h.Values("Idempotency-Key"))
	}
}

// TestAppendIsNotSentAgainOnceAnAnswerBegan: an append says to net/http
// that it is idempotent (an Idempotency-Key field of no value), so that
// net/http sends it again when a kept-alive connection turns out closed
// before any answer. It must not be sent again once an answer began: one
// cut halfway through its status line or its header, or a whole 5xx, is
// Append's error, the append sent once.
func TestAppendIsNotSentAgainOnceAnAnswerBegan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, answer string }{
		{"a status line cut short", "HTTP/1.1 201 Cre"},
		{"a header cut short", "HTTP/1.1 201 Created\r\nContent-Type: appl"},
		{"a body cut short", "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"stream_id\":"},
		{"a 503", "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nContent-Length: 2\r\n\r\n{}"},
		{"a 502", "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var appends atomic.Int64
			_, err := appendOnAKeptAliveConn(t, func(conn net.Conn, req *http.Request) bool {
				io.Copy(io.Discard, req.Body) //nolint:errcheck // a test's server
				appends.Add(1)
				io.WriteString(conn, tc.answer) //nolint:errcheck // a test's server
				return false                    // and close the connection
			})
			if err == nil {
				t.Errorf("Append answered with %s: no error; expected one", tc.name)
			}
			if n := appends.Load(); n != 1 {
				t.Errorf("Append answered with %s: sent %d times; expected once", tc.name, n)
			}
		})
	}
}

// appendOnAKeptAliveConn has a new Client append an event to a new stream
// on a kept-alive connection (its Stream call, answered version 0, opened
// it) to a server that hands each append to onAppend to answer on conn, and
// closes conn when onAppend returns false. It returns the Append's result.
func appendOnAKeptAliveConn(t *testing.T, onAppend func(conn net.Conn, req *http.Request) bool) (*AppendResult, error) {
	t.Helper()
	stream := uuid.New()
	addr := tcptest.Serve(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Method == http.MethodPost {
				if !onAppend(conn, req) {
					return
				}
				continue
			}
			io.Copy(io.Discard, req.Body) //nolint:errcheck // a test's server
			body := fmt.Sprintf(`{"stream_id":"%s","stream_type":"order","version":0}`, stream)
			fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body) //nolint:errcheck // a test's server
		}
	})
	c := newClient(t, "http://"+addr)
	ctx := context.Background()
	if _, err := c.Stream(ctx, stream); err != nil { // the append then goes on a kept-alive connection
		t.Fatalf("Stream: %v", err)
	}
	return c.Append(ctx, StreamRef{ID: stream, Type: "order"}, NoStream, NewEvent{Type: "A", Data: 1})
}

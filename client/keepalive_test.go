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
	stream := uuid.New()
	var appends, unanswered atomic.Int64
	var headers atomic.Value
	addr := tcptest.Serve(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		// Every connection's first request is answered; its second
		// is read, and the connection closed without an answer.
		for i := 0; ; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if i > 0 {
				io.Copy(io.Discard, req.Body) //nolint:errcheck // a test's server
				unanswered.Add(1)
				return
			}
			var body string
			status := "200 OK"
			if req.Method == http.MethodPost {
				appends.Add(1)
				headers.Store(req.Header.Clone())
				body, status = storedAnswer(t, req), "201 Created"
			} else {
				body = fmt.Sprintf(`{"stream_id":"%s","stream_type":"order","version":0}`, stream)
			}
			fmt.Fprintf(conn, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body) //nolint:errcheck // a test's server
		}
	})
	c := newClient(t, "http://"+addr)
	ctx := context.Background()
	if _, err := c.Stream(ctx, stream); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	res, err := c.Append(ctx, StreamRef{ID: stream, Type: "order"}, NoStream, NewEvent{Type: "A", Data: 1}, NewEvent{Type: "B", Data: 2})
	if err != nil || res.Version != 2 {
		t.Fatalf("Append on a connection the server closed = %+v, %v; expected it sent again on a new one, and stored", res, err)
	}
	if unanswered.Load() != 1 || appends.Load() != 1 {
		t.Errorf("the server left %d requests unanswered and answered %d appends; expected the append once each", unanswered.Load(), appends.Load())
	}
	if h := headers.Load().(http.Header); h.Get("Idempotency-Key") != "" || len(h.Values("Idempotency-Key")) != 0 {
		t.Errorf("the append was sent with Idempotency-Key %q; expected the field not sent", h.Values("Idempotency-Key"))
	}
}

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
			stream := uuid.New()
			var appends atomic.Int64
			addr := tcptest.Serve(t, func(conn net.Conn) {
				br := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body) //nolint:errcheck // a test's server
					if req.Method == http.MethodPost {
						appends.Add(1)
						io.WriteString(conn, tc.answer) //nolint:errcheck // a test's server
						return                          // and close the connection
					}
					body := fmt.Sprintf(`{"stream_id":"%s","stream_type":"order","version":0}`, stream)
					fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body) //nolint:errcheck // a test's server
				}
			})
			c, err := New("http://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ctx := context.Background()
			if _, err := c.Stream(ctx, stream); err != nil { // the append then goes on a kept-alive connection
				t.Fatalf("Stream: %v", err)
			}
			_, err = c.Append(ctx, StreamRef{ID: stream, Type: "order"}, NoStream, NewEvent{Type: "A", Data: 1})
			if err == nil {
				t.Errorf("Append answered with %s: no error; expected one", tc.name)
			}
			if n := appends.Load(); n != 1 {
				t.Errorf("Append answered with %s: sent %d times; expected once", tc.name, n)
			}
		})
	}
}

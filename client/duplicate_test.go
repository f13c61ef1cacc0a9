package client

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestAppendResultIsDuplicateForABatchThisCallStored: the doc of
// AppendResult.Duplicate said "nothing was written this time", but
// net/http sends an append again on a new connection when a kept-alive
// one is closed after the server read it; where the server stored the
// first sending, the second is answered 200, and this very call's batch
// comes back Duplicate. The doc now says so: Duplicate means stored once,
// not stored by another call.
func TestAppendResultIsDuplicateForABatchThisCallStored(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	var stored atomic.Value // the first sending's answer
	var sendings atomic.Int64
	addr := tcptest.Serve(t, func(conn net.Conn) {
		br := bufio.NewReader(conn)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Method != http.MethodPost {
				body := fmt.Sprintf(`{"stream_id":"%s","stream_type":"order","version":0}`, stream)
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body) //nolint:errcheck // a test's server
				continue
			}
			sendings.Add(1)
			answer := storedAnswer(t, req)
			if stored.CompareAndSwap(nil, answer) {
				return // stored, and the kept-alive connection closed before the answer
			}
			// A repeat of a stored batch: 200, as the server answers it.
			fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer) //nolint:errcheck // a test's server
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
	res, err := c.Append(ctx, StreamRef{ID: stream, Type: "order"}, NoStream, NewEvent{Type: "A", Data: 1})
	if err != nil || !res.Duplicate || sendings.Load() != 2 {
		t.Fatalf("Append whose first sending was stored unanswered = %+v, %v, sent %d times; expected it sent twice and Duplicate, "+
			"though this call stored it", res, err, sendings.Load())
	}
}

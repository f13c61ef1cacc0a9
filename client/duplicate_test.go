package client

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
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
	var stored atomic.Value // the first sending's answer
	var sendings atomic.Int64
	res, err := appendOnAKeptAliveConn(t, func(conn net.Conn, req *http.Request) bool {
		sendings.Add(1)
		answer := storedAnswer(t, req)
		if stored.CompareAndSwap(nil, answer) {
			return false // stored, and the kept-alive connection closed before the answer
		}
		// A repeat of a stored batch: 200, as the server answers it.
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer) //nolint:errcheck // a test's server
		return true
	})
	if err != nil || !res.Duplicate || sendings.Load() != 2 {
		t.Fatalf("Append whose first sending was stored unanswered = %+v, %v, sent %d times; expected it sent twice and Duplicate, "+
			"though this call stored it", res, err, sendings.Load())
	}
}

package http_test

import (
	"net/http"
	"testing"
)

// TestAtTheBoundAnEventStreamAskedOfHealthzIsNoLivenessProbe: at a
// connection bound, /healthz is answered 200 on the refused connection as
// its handler answers a liveness probe. Its handler answers Accept:
// text/event-stream alone (an EventSource given the wrong URL) 406, not
// 200; the refused connection still answered it 200, which such a client
// takes for a subscription. It is no liveness probe: refused 503 as any
// other request at the bound; a probe that also takes JSON is still 200.
func TestAtTheBoundAnEventStreamAskedOfHealthzIsNoLivenessProbe(t *testing.T) {
	b := startFullBound(t)
	stream := dialFrom(t, b.addr, "127.0.0.3")
	if _, err := stream.Write([]byte("GET /healthz HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	requireRefused(t, stream, "2 connections")
	probe := dialFrom(t, b.addr, "127.0.0.3")
	if _, err := probe.Write([]byte("GET /healthz HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream, application/json\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if resp, body := probe.answerTo(t, http.MethodGet); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz taking JSON too, at the connection bound: %d %q; want 200", resp.StatusCode, body)
	}
}

package http

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionOpenedDuringTheShutdownDelaySaysConnectionCloseAndEndsWithTheDrain:
// a subscription opened once Stopping was called is served as before, its
// answer saying Connection: close as every answer during the delay does;
// taken over from net/http once live, it still ends when the drain ends
// subscriptions (CloseSubscriptions), its body ended and its connection
// closed, not kept for another request.
func TestASubscriptionOpenedDuringTheShutdownDelaySaysConnectionCloseAndEndsWithTheDrain(t *testing.T) {
	t.Parallel()
	s, _, srv := serveWithFeed(t, teststore.SQLite, func(s *Server) http.Handler { return s })
	s.Stopping()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // a hang guard
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the subscription's answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || !resp.Close {
		t.Fatalf("a subscription opened during the delay: %d %q, Connection: close %v; want 200 text/event-stream with Connection: close",
			resp.StatusCode, resp.Header.Get("Content-Type"), resp.Close)
	}
	// Once it is caught up (its first frame), the drain ends it.
	body := bufio.NewReader(resp.Body)
	for {
		line, err := body.ReadString('\n')
		if err != nil {
			t.Fatalf("the subscription's frames: %v; want it caught up", err)
		}
		if strings.HasPrefix(line, "event: caught-up") || strings.HasPrefix(line, "event:caught-up") {
			break
		}
	}
	s.CloseSubscriptions()
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck // a hang guard
	if _, err := io.Copy(io.Discard, body); err != nil {
		t.Errorf("the subscription's body after the drain ended it: %v; want its end", err)
	}
	if n, err := br.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("after the subscription's end: read %d bytes, %v; want the connection closed by the server (EOF)", n, err)
	}
}

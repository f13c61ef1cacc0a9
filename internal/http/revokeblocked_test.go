package http_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// smallBuffers is a listener whose connections have a small send buffer:
// one large event is more than the kernel holds for a client that reads
// nothing, so the write of it waits on the client.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(16 << 10) //nolint:errcheck // a larger buffer only makes the test wait on more
	}
	return c, err
}

// TestASubscriptionBlockedOnItsClientEndsWhenItsTokenIsRemoved: the
// subscription of a token removed from the set ended only at its next
// wait for events: one blocked writing to a client that reads nothing
// (or a few bytes at a time) went on for the stall timeout, or for as long
// as its client kept taking bytes, holding its connection and its place,
// and delivering what it had read to a revoked holder. The removal cuts
// the pending write, as a shutdown does.
func TestASubscriptionBlockedOnItsClientEndsWhenItsTokenIsRemoved(t *testing.T) {
	t.Parallel()
	access := esthttp.NewAccess(mustTokens(t, "ops:write:"+keptSecret+",leaked:read:"+removedSecret))
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	feedCtx, stopFeed := context.WithCancel(context.Background())
	go feed.Run(feedCtx)
	api := esthttp.New(feed.Notifying(store), esthttp.Options{Access: access, Feed: feed, Heartbeat: time.Hour, StallTimeout: time.Hour})
	srv := httptest.NewUnstartedServer(api)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); stopFeed() })

	// Events of 512 KiB: the first alone is more than the buffers hold.
	big := strings.Repeat("x", 512<<10)
	for i := range 4 {
		body := fmt.Sprintf(`{"stream_type":"blob","events":[{"type":"Big","data":{"b":%q}},{"type":"Big","data":{"b":%q}}]}`, big, big)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/streams/0d9c1f4e-6b1a-4b8e-9a57-2f6a1c3d4e5f/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+keptSecret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("append %d: expected 201; got %d", i, resp.StatusCode)
		}
	}

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.(*net.TCPConn).SetReadBuffer(16 << 10) //nolint:errcheck
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer %s\r\n\r\n", removedSecret)
	// Read until the first event's data begins: the subscription is then
	// writing it, and, read no further, the write waits on this client.
	r := bufio.NewReaderSize(conn, 1024)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck
	for seen := ""; !strings.Contains(seen, "data:"); {
		line, err := r.ReadString('\n')
		if err != nil && !strings.Contains(line, "data:") {
			t.Fatalf("expected the first event's data; got %q, %v", seen, err)
		}
		seen += line
	}
	if _, err := access.Replace(mustTokens(t, "ops:write:"+keptSecret)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := api.Wait(ctx); err != nil {
		t.Fatalf("the subscription of the removed token, blocked on its client: expected it ended at the removal; %v 30 s later", err)
	}
}

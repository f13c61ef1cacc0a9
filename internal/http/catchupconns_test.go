package http_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// connsInUse sums go_sql_in_use_connections over the store's pools that
// clients' requests use (all but the live feed's tailer's own).
func connsInUse(t *testing.T, m *metrics.Metrics) int {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	n, seen := 0, false
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "go_sql_in_use_connections{") || strings.Contains(line, `db_name="feed"`) {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		n += int(v)
		seen = true
	}
	if !seen {
		t.Fatalf("no go_sql_in_use_connections in the store's metrics:\n%s", rec.Body)
	}
	return n
}

// TestACatchUpBlockedOnAClientThatNeverReadsHoldsNoConnection: the rule is
// that no request holds a database connection while it waits on a client.
// A subscriber that never reads, with a catch-up of 10 MB (more than its
// socket's buffers take), blocks its subscription's write with a page of
// history read and its place in the catch-up budget held: the store's
// connections must all be back in their pools meanwhile (an attacker's
// report of driver warnings as such subscribers left suggested a result set
// kept open under the blocked write; they were reads in flight cut as their
// subscribers left). On both stores.
func TestACatchUpBlockedOnAClientThatNeverReadsHoldsNoConnection(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		m := metrics.New("test")
		store := teststore.OpenCounted(t, k, m)
		data := []byte(`"` + strings.Repeat("x", 200<<10) + `"`)
		for range 10 {
			evs := make([]eventstore.NewEvent, 5)
			for i := range evs {
				evs[i] = eventstore.NewEvent{Type: "Big", Data: data}
			}
			if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
				t.Fatal(err)
			}
		}
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { feed.Run(ctx); close(done) }()
		srv := httptest.NewUnstartedServer(esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed, Heartbeat: time.Hour, StallTimeout: time.Hour}))
		srv.Config.ConnContext = esthttp.ConnContext
		srv.Start()
		t.Cleanup(func() { srv.Close(); cancel(); <-done })

		subscribeWithSmallReceiveBuffer(t, srv.Listener.Addr().String())
		// It never reads. Its subscription reads history under a place,
		// and its write of it blocks; the place stays held while it does.
		untilState(t, "the subscription to read history under a place", func() bool { return feed.CatchUpBytes() > 0 })
		untilState(t, "the store's connections to be back in their pools while a subscriber's catch-up is blocked on it", func() bool {
			return connsInUse(t, m) == 0
		})
		if feed.CatchUpBytes() == 0 || feed.Subscribers() != 1 {
			t.Fatalf("the subscriber's catch-up ended (a place held: %d bytes, %d subscribers) though it read nothing of 10 MB: the test proves nothing",
				feed.CatchUpBytes(), feed.Subscribers())
		}
	})
}

// subscribeWithSmallReceiveBuffer subscribes to /events at addr on a
// connection of its own whose receive buffer is 4 KiB (a hint the kernel
// may round), so that what the server sends fills it soon: the client of a
// test that reads slowly, or not at all.
func subscribeWithSmallReceiveBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) //nolint:errcheck // a hint
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

package client

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestOneClientServesManyGoroutinesAtOnce: one Client, as its doc says, is
// safe for concurrent use: goroutines append to their own streams, read
// them back, subscribe to them, and Close it between, all at
// once, under the race detector; every call gets its own answer. Against
// the real handler, on both stores.
func TestOneClientServesManyGoroutinesAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		c := clientOfTributary(t, k)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				id := uuid.New()
				for v := range 5 {
					if _, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, Exactly(int64(v)), NewEvent{Type: "A", Data: v}); err != nil {
						t.Errorf("goroutine %d: append at version %d: %v", g, v, err)
						return
					}
					if g%2 == 0 {
						c.Close() //nolint:errcheck // it returns nil
					}
				}
				var versions []int64
				for e, err := range c.ReadStream(ctx, id, ReadStreamOptions{PageSize: 2}) {
					if err != nil {
						t.Errorf("goroutine %d: read: %v", g, err)
						return
					}
					versions = append(versions, e.Version)
				}
				if len(versions) != 5 {
					t.Errorf("goroutine %d: read versions %v; expected 1 to 5", g, versions)
				}
				n := 0
				for m, err := range c.Subscribe(ctx, SubscribeOptions{StreamID: id}) {
					if err != nil {
						t.Errorf("goroutine %d: subscribe after %d events: %v", g, n, err)
						return
					}
					if m.CaughtUp {
						break
					}
					n++
				}
				if n != 5 {
					t.Errorf("goroutine %d: subscription delivered %d events before catching up; expected 5", g, n)
				}
			})
		}
		wg.Wait()
	})
}

// TestConcurrentCallsKeepTheirConnections: a client whose goroutines make
// calls at once keeps their connections for the next calls: the
// transport it made kept 2 idle connections a host, net/http's default,
// so that of 8 goroutines' connections 6 were closed after each round of
// calls and dialled again for the next (TCP and TLS handshakes, sockets
// left in TIME_WAIT), for a client that talks to one host.
func TestConcurrentCallsKeepTheirConnections(t *testing.T) {
	t.Parallel()
	const n = 8
	var conns atomic.Int64
	var mu sync.Mutex
	inFlight, all := 0, make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Each round's n calls are all in flight before any is answered:
		// each holds a connection of its own.
		mu.Lock()
		if inFlight++; inFlight == n {
			close(all)
			inFlight, all = 0, make(chan struct{})
			mu.Unlock()
		} else {
			wait := all
			mu.Unlock()
			select {
			case <-wait:
			case <-time.After(10 * time.Second): // only a safety net
			}
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stream_id":"`+path.Base(r.URL.Path)+`","stream_type":"order","version":1}`) //nolint:errcheck // a test's answer
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	for round := range 3 {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				if _, err := c.Stream(context.Background(), uuid.New()); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
	}
	if got := conns.Load(); got != n {
		t.Errorf("3 rounds of %d calls at once opened %d connections; expected %d, kept from round to round", n, got, n)
	}
}

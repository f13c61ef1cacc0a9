package http

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestALiveSubscriptionKeepsNoRequestForAbandon: a subscription that has
// taken its connection over (detach) lets net/http's goroutine, buffers and
// request go, which is most of why an idle subscriber costs little. The
// record of requests still running (for Abandon) held each one's request,
// and with it its context and what that holds, for as long as it was open.
// Once live it holds only its line; once ended, nothing. On both stores.
func TestALiveSubscriptionKeepsNoRequestForAbandon(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s, feed, srv := serveWithFeed(t, k, func(s *Server) http.Handler { return s })

		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
		waitUntil(t, 5*time.Second, "the subscription", func() bool { return feed.Subscribers() == 1 })
		waitUntil(t, 5*time.Second, "the live subscription to hold no request", func() bool {
			lines, requests := s.running.counts()
			return lines == 1 && requests == 0
		})
		c.Close()
		waitUntil(t, 5*time.Second, "the ended subscription to be logged", func() bool {
			lines, _ := s.running.counts()
			return lines == 0
		})
	})
}

// counts returns how many lines are still to be logged, and how many
// requests are held with them.
func (rr *running) counts() (lines, requests int) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for _, r := range rr.m {
		if r != nil {
			requests++
		}
	}
	return len(rr.m), requests
}

// serveWithFeed serves, on a test server closed at the test's end, a Server
// on a store of kind k with a live feed polling every 10 ms and a heartbeat
// of a minute, through the handler h makes of it.
func serveWithFeed(t *testing.T, k teststore.Kind, h func(s *Server) http.Handler) (*Server, *fanout.Feed, *httptest.Server) {
	t.Helper()
	store := k.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() { feed.Run(ctx); close(fed) }()
	s := New(feed.Notifying(store), Options{Feed: feed, Heartbeat: time.Minute})
	srv := httptest.NewUnstartedServer(h(s))
	srv.Config.ConnContext = ConnContext
	srv.Start()
	t.Cleanup(func() { srv.Close(); stop(); <-fed })
	return s, feed, srv
}

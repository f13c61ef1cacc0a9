package http

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// heldWriter stands for net/http's response writer, which holds the
// connection's 4 KiB read and write buffers: whatever keeps it keeps them.
type heldWriter struct{ http.ResponseWriter }

func (h *heldWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// TestALiveSubscriptionLetsNetHTTPsResponseWriterGo: a subscription that has
// taken its connection over (detach) keeps nothing of net/http's response:
// the access line kept, through what the handlers wrote through (its sent
// count), the response writer, and with it the connection's two buffers,
// 8 KiB an idle subscriber of the 18–28 KiB the load tool measures. Once
// live, the writer the handler got is collected. On both stores.
func TestALiveSubscriptionLetsNetHTTPsResponseWriterGo(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		got := make(chan weak.Pointer[heldWriter], 1)
		s, feed, srv := serveWithFeed(t, k, func(s *Server) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := &heldWriter{w}
				got <- weak.Make(h)
				s.ServeHTTP(h, r)
			})
		})

		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
		held := <-got
		waitUntil(t, 5*time.Second, "the subscription to be live and hold no request", func() bool {
			lines, requests := s.running.counts()
			return feed.Subscribers() == 1 && lines == 1 && requests == 0
		})
		waitUntil(t, 5*time.Second, "net/http's response writer to be collected while the subscription is live", func() bool {
			runtime.GC()
			return held.Value() == nil
		})
		if lines, _ := s.running.counts(); lines != 1 || feed.Subscribers() != 1 {
			t.Fatalf("the subscription ended (lines %d, subscribers %d): the test proves nothing", lines, feed.Subscribers())
		}
	})
}

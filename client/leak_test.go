package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestEverySubscriptionLeavesNoGoroutineBehind: however a subscription
// ends (its consumer stops, its context ends while it reads, waits to
// reconnect or waits for an answer's headers, an error ends it), no
// goroutine of its remains once it has, and once the client is closed.
// Not parallel: it counts the process's goroutines.
func TestEverySubscriptionLeavesNoGoroutineBehind(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("stream_type") {
		case "silent": // headers, then nothing
			w.Header().Set("Content-Type", "text/event-stream")
			w.(http.Flusher).Flush()
		case "noheaders": // not even headers
		case "down":
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case "refused":
			w.WriteHeader(http.StatusUnauthorized)
			return
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	}))
	defer func() {
		srv.CloseClientConnections() // a connection left open must not hold Close
		srv.Close()
	}()
	before := runtime.NumGoroutine()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// Ended by its consumer, or an error, the context still open till the
	// count: what the subscription holds, it lets go of itself.
	for _, kind := range []string{"events", "refused"} {
		for m, err := range c.Subscribe(context.Background(), SubscribeOptions{StreamTypes: []string{kind}}) {
			if err != nil || m.Event.Position == 1 {
				break
			}
		}
	}
	// Ended by its context, whatever it was doing.
	for _, kind := range []string{"events", "silent", "noheaders", "down", "refused"} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		for _, err := range c.Subscribe(ctx, SubscribeOptions{StreamTypes: []string{kind}, MinBackoff: 50 * time.Millisecond}) {
			if err != nil {
				break
			}
		}
		cancel()
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var ours []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "tributary/client") && !strings.Contains(g, "TestEverySubscription") {
				ours = append(ours, g)
			}
		}
		t.Errorf("%d goroutines left, %d before: %s", n, before, fmt.Sprint(ours))
	}
}

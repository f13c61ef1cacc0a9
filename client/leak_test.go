package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
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
	c := newClient(t, srv.URL)
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
	// A safety bound only: on a loaded machine goroutines take their time
	// to end, and one that never does is what fails.
	deadline := time.Now().Add(30 * time.Second)
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

// TestCloseDuringASubscriptionLeavesItRunning: Close closes idle
// connections only, as its contract says; a subscription in progress
// goes on delivering through it (and through a reconnection after it),
// and ends with its context.
func TestCloseDuringASubscriptionLeavesItRunning(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		conns.Add(1)
		after, _ := strconv.Atoi(r.URL.Query().Get("after"))
		startEventStream(w)
		// Ten events a connection, one every 5 ms, then the end.
		for pos := after + 1; pos <= after+10; pos++ {
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", pos, sseEvent(pos))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(5 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []int64
	var last error
	for m, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}) {
		if err != nil {
			last = err
			break
		}
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if got = append(got, m.Event.Position); len(got) == 25 {
			cancel()
		}
	}
	want := make([]int64, 25)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || !errors.Is(last, context.Canceled) || conns.Load() != 3 {
		t.Errorf("with Close after every message: received %v, then %v, over %d connections; expected 1 to 25 over 3, then context.Canceled", got, last, conns.Load())
	}
}

// TestEveryCallEndsWithItsContextAtEveryStep: a call whose context ends
// while it waits for the answer's headers, or reads a body that comes
// slowly, returns at once with the context's error, whatever the server
// does.
func TestEveryCallEndsWithItsContextAtEveryStep(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		// An append's body read first: till then, net/http does not see
		// the client go.
		io.Copy(io.Discard, r.Body) //nolint:errcheck // a test's server
		if strings.Contains(r.URL.RawQuery, "slow") || r.Method == http.MethodPost && r.Header.Get("If-Match") == `"7"` {
			// The headers and the start of a body, then a byte a second.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"events":[`) //nolint:errcheck // a test's answer
			for {
				w.(http.Flusher).Flush()
				select {
				case <-time.After(time.Second):
					io.WriteString(w, " ") //nolint:errcheck // a test's answer
				case <-r.Context().Done():
					return
				case <-stop:
					return
				}
			}
		}
		select { // no headers
		case <-r.Context().Done():
		case <-stop:
		}
	})
	t.Cleanup(func() { close(stop) }) // before srv.Close
	c := newClient(t, srv.URL)
	first := func(seq iter.Seq2[Event, error]) error {
		for _, err := range seq {
			return err
		}
		return nil
	}
	for name, call := range map[string]func(ctx context.Context) error{
		"Append, waiting for headers": func(ctx context.Context) error {
			_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "A", Data: 1})
			return err
		},
		"Append, reading a slow body": func(ctx context.Context) error {
			_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Exactly(7), NewEvent{Type: "A", Data: 1})
			return err
		},
		"Stream, waiting for headers": func(ctx context.Context) error {
			_, err := c.Stream(ctx, uuid.New())
			return err
		},
		"ReadAll, waiting for headers": func(ctx context.Context) error { return first(c.ReadAll(ctx, ReadAllOptions{})) },
		"ReadAll, reading a slow body": func(ctx context.Context) error {
			return first(c.ReadAll(ctx, ReadAllOptions{EventTypes: []string{"slow"}}))
		},
		"ReadStream, waiting for headers": func(ctx context.Context) error { return first(c.ReadStream(ctx, uuid.New(), ReadStreamOptions{})) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
			start := time.Now()
			err := call(ctx)
			// Not waited out: the request timeout (a minute) would end it with
			// its own error, well after this safety bound.
			if took := time.Since(start); !errors.Is(err, context.Canceled) || took > 30*time.Second {
				t.Errorf("cancelled after 200 ms: returned %v after %v; expected context.Canceled once cancelled", err, took.Round(time.Millisecond))
			}
		})
	}
}

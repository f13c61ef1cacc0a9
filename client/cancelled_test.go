package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestACallWhoseContextEndedAlreadySendsNothing: every call given a
// context that has already ended returns its error (context.Canceled)
// and sends no request, with or without read retries.
func TestACallWhoseContextEndedAlreadySendsNothing(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := newClient(t, srv.URL, WithReadRetries(3))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	first := func(seq func(func(Event, error) bool)) error {
		for _, err := range seq {
			if err != nil {
				return err
			}
		}
		return nil
	}
	for name, call := range map[string]func() error{
		"Append": func() error {
			_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "A", Data: 1})
			return err
		},
		"Stream": func() error {
			_, err := c.Stream(ctx, uuid.New())
			return err
		},
		"ReadStream": func() error { return first(c.ReadStream(ctx, uuid.New(), ReadStreamOptions{})) },
		"ReadAll":    func() error { return first(c.ReadAll(ctx, ReadAllOptions{})) },
		"Subscribe": func() error {
			for _, err := range c.Subscribe(ctx, SubscribeOptions{}) {
				if err != nil {
					return err
				}
			}
			return nil
		},
	} {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a context already cancelled: %v; expected context.Canceled", name, err)
		}
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d requests sent under a context already cancelled; expected none", n)
	}
}

// TestAppendsReadsAndSubscriptionsReleaseTheContextsTheyMake: as
// TestEveryRequestReleasesTheContextsItMakes for a stream's description
// and pages, for appends, reads of the log and subscriptions (whose
// request has no timeout, and a context of its own all the same): after
// many calls under a long-lived context of another kind, none of their
// contexts is left watching it. Not parallel: it counts the process's
// goroutines.
func TestAppendsReadsAndSubscriptionsReleaseTheContextsTheyMake(t *testing.T) {
	stream, ev := uuid.New(), uuid.New()
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"stream_id":"`+stream.String()+`","stream_type":"order","version":1,"events":[{"id":"`+ev.String()+`","version":1,"position":1,"recorded_at":"2026-12-04T00:00:00Z"}]}`) //nolint:errcheck // a test's answer
		case r.Header.Get("Accept") == "text/event-stream":
			startEventStream(w)
			io.WriteString(w, "id: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
		}
	})
	ctx := ownDone{Context: context.Background(), done: make(chan struct{})}
	defer close(ctx.done)
	watching := func() int {
		buf := make([]byte, 4<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "created by context.(*cancelCtx).propagateCancel")
	}
	const calls = 20
	for range calls {
		if _, err := c.Append(ctx, StreamRef{ID: stream, Type: "order"}, NoStream, NewEvent{ID: ev, Type: "A", Data: 1}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		for _, err := range c.ReadAll(ctx, ReadAllOptions{}) {
			if err != nil {
				t.Fatalf("ReadAll: %v", err)
			}
		}
		for m, err := range c.Subscribe(ctx, SubscribeOptions{}) {
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			if m.Event.Position == 1 {
				break
			}
		}
	}
	// A safety bound only: one never ended is watched as long as ctx lives.
	deadline := time.Now().Add(30 * time.Second)
	for watching() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := watching(); n > 0 {
		t.Errorf("%d goroutines still watch the calls' context for a child after %d calls, all ended; expected none", n, 3*calls)
	}
}

package client

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSubscribeEndsAtA204AsAnEventSourceDoes: a 204 No Content is how a
// server tells a subscriber to stop reconnecting (WHATWG HTML §9.2, which
// API.md follows: an EventSource stops there). The client took it for
// "not Tributary's answer" and came back with backoff for ever, telling
// OnDisconnect each time. It now ends the subscription at the first 204
// with ErrSubscriptionStopped, sending no request after it.
func TestSubscribeEndsAtA204AsAnEventSourceDoes(t *testing.T) {
	t.Parallel()
	srv, requests := refusedOnce(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 1)
	if len(msgs) != 0 || !errors.Is(last, ErrSubscriptionStopped) || !strings.Contains(last.Error(), "204") || requests.Load() != 1 {
		t.Errorf("received %v, then %v after %d requests; expected no message, and the 204 to end the subscription with ErrSubscriptionStopped after 1 request",
			positions(msgs), last, requests.Load())
	}
}

// TestSubscribeEndsAtA204AfterEvents: a 204 that answers a reconnection,
// after the subscription delivered events, ends it too, with
// ErrSubscriptionStopped, after the events delivered and no request
// after it; the reconnection it answered resumed where the events ended
// (Last-Event-ID and after of the one before the last, which the
// resumption asks for again to check it), as any does.
func TestSubscribeEndsAtA204AfterEvents(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []string
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RawQuery+" Last-Event-ID="+r.Header.Get("Last-Event-ID"))
		n := len(asked)
		mu.Unlock()
		if n > 1 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		startEventStream(w)
		io.WriteString(w, "id: 1\ndata: "+sseEvent(1)+"\n\nid: 2\ndata: "+sseEvent(2)+"\n\n") //nolint:errcheck // a test's answer
	})
	msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 0)
	mu.Lock()
	defer mu.Unlock()
	var events []int64
	for _, m := range msgs {
		if !m.CaughtUp {
			events = append(events, m.Event.Position)
		}
	}
	if fmt.Sprint(events) != "[1 2]" || !errors.Is(last, ErrSubscriptionStopped) || len(asked) != 2 || asked[1] != "after=1 Last-Event-ID=1" {
		t.Errorf("received %v, then %v, from requests %q; expected events [1 2], then ErrSubscriptionStopped at the second request, which resumes at 2, asking again for the event delivered there (after=1 Last-Event-ID=1)",
			events, last, asked)
	}
}

package client

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestASubscriptionEndedWithAProblemSaysItsDetail: the server ends a
// subscription that a 503 of its database ends once open (damage, a log
// head behind its events, a missing index) with an event: problem frame
// carrying that 503's problem+json, since the status went before. The
// client passed it over and told OnDisconnect only that the server ended
// the subscription. It now tells the problem's detail.
func TestASubscriptionEndedWithAProblemSaysItsDetail(t *testing.T) {
	t.Parallel()
	const detail = "The database lacks the index events_event_type_position"
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "retry: 10\n\n: "+detail+"\nevent: problem\ndata: "+ //nolint:errcheck // a test's answer
			`{"type":"https://tributary.dev/problems/unavailable","title":"Service unavailable","status":503,"detail":"`+detail+`"}`+"\nretry: 10\n\n")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
	defer cancel()
	var mu sync.Mutex
	var told error
	for _, err := range c.Subscribe(ctx, SubscribeOptions{MaxBackoff: 50 * time.Millisecond, OnDisconnect: func(err error, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		told = err
		cancel()
	}}) {
		if err != nil {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if told == nil || !strings.Contains(told.Error(), "ended the subscription") || !strings.Contains(told.Error(), detail) {
		t.Errorf("OnDisconnect was told %v; want that the server ended the subscription, with the problem's detail %q", told, detail)
	}
}

package client

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestSubscribeKeepsAMaxBackoffBelowTheDefaultMinBackoff: a MaxBackoff
// set alone, below MinBackoff's default of 500 ms, was taken for one set
// below MinBackoff and replaced by 30 s: a caller that asked for waits of
// at most 50 ms got waits of up to 30 s. MinBackoff's default is now cut
// to MaxBackoff, and no wait goes past it.
func TestSubscribeKeepsAMaxBackoffBelowTheDefaultMinBackoff(t *testing.T) {
	t.Parallel()
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "bad gateway") //nolint:errcheck // a test's answer
	})
	const most = 50 * time.Millisecond
	var mu sync.Mutex
	var waits []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, err := range c.Subscribe(ctx, SubscribeOptions{MaxBackoff: most, OnDisconnect: func(_ error, retryIn time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if waits = append(waits, retryIn); len(waits) == 5 {
			cancel()
		}
	}}) {
		if err != nil {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, w := range waits {
		if w > most {
			t.Errorf("wait %d of %v: %v; expected none past MaxBackoff, %v", i+1, waits, w, most)
		}
	}
}

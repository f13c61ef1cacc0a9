package client

import (
	"errors"
	"net/http"
	"strings"
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

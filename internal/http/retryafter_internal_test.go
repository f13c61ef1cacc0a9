package http

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestEvery503CarriesRetryAfterButAnUnmendableFiles states, in one table,
// which of the server's 503s carry Retry-After: API.md asks it of every
// 503, and each one the server can send does, but a damaged or overwritten
// embedded file's, which no retry mends (retryAfter, the one place the
// rule is written).
func TestEvery503CarriesRetryAfterButAnUnmendableFiles(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{})
	for _, tc := range []struct {
		name  string
		err   error
		retry bool
	}{
		{"the database out of reach", fmt.Errorf("append: %w", eventstore.ErrUnavailable), true},
		{"the request's time out on the database", context.DeadlineExceeded, true},
		{"the instance's subscribers at their limit", errTooManySubscribers, true},
		{"a client's share of subscriptions", errClientSubscribers, true},
		{"the bodies in flight at their limit", errBodiesInFlight, true},
		{"a client's share of the bodies in flight", errClientBodies, true},
		{"/readyz during the shutdown delay", errStopping, true},
		{"/readyz with the database out of reach", &probeError{eventstore.ErrUnavailable}, true},
		{"the embedded file damaged", fmt.Errorf("read: %w: %w", eventstore.ErrUnavailable, eventstore.ErrDamaged), false},
		{"the embedded file overwritten", fmt.Errorf("append: %w: %w", eventstore.ErrUnavailable, eventstore.ErrOverwritten), false},
		{"the embedded file's WAL removed", fmt.Errorf("read: %w: %w", eventstore.ErrUnavailable, eventstore.ErrRestartNeeded), false},
		{"/readyz with the embedded file damaged", &probeError{fmt.Errorf("%w: %w", eventstore.ErrUnavailable, eventstore.ErrDamaged)}, false},
	} {
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest(http.MethodGet, "/events", nil), tc.err)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: %d; want 503", tc.name, w.Code)
			continue
		}
		if got := w.Header().Get("Retry-After"); (got != "") != tc.retry || tc.retry && got != retryAfter(tc.err) {
			t.Errorf("%s: Retry-After %q; want it (%v) to be %q", tc.name, got, tc.retry, retryAfter(tc.err))
		}
	}
	// A connection refused at TRIBUTARY_MAX_CONNECTIONS, answered before
	// any request is read.
	c := &Connections{max: 1, perClient: 1}
	for _, bound := range []string{"server", "client"} {
		if a := string(c.refusal(bound)); !strings.HasPrefix(a, "HTTP/1.1 503 ") || !strings.Contains(a, "\r\nRetry-After: 2\r\n") {
			t.Errorf("the refusal at the %s's bound of connections: %q; want a 503 with Retry-After: 2", bound, a)
		}
	}
}

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
		{"the embedded store's storage failed", fmt.Errorf("append: %w: %w", eventstore.ErrUnavailable, eventstore.ErrStorageFailed), false},
		{"the embedded store's storage failed as an append committed", &appendError{fmt.Errorf("append: %w: %w: %w",
			eventstore.ErrUnavailable, eventstore.ErrOutcomeUnknown, eventstore.ErrStorageFailed)}, true},
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
		if a := string(c.refusal(bound, "")); !strings.HasPrefix(a, "HTTP/1.1 503 ") || !strings.Contains(a, "\r\nRetry-After: 2\r\n") {
			t.Errorf("the refusal at the %s's bound of connections: %q; want a 503 with Retry-After: 2", bound, a)
		}
	}
}

// TestAFailedStorageIs503ThatNamesItAndSaysRetryingWillNotHelp: the
// embedded store with no writable directory for SQLite's temporary files,
// or an I/O error on its files, answered as an outage ("cannot be reached
// … try again after Retry-After"): clients retried forever what only an
// operator mends. Its 503 says what failed and that retrying will not
// help, and, for an append, that it was not written; an append whose
// outcome is unknown is told that first.
func TestAFailedStorageIs503ThatNamesItAndSaysRetryingWillNotHelp(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{})
	failed := fmt.Errorf("append: %w: %w: SQLite found no writable directory", eventstore.ErrUnavailable, eventstore.ErrStorageFailed)
	for _, tc := range []struct {
		name      string
		err       error
		want, not []string
	}{
		{"a read", failed, []string{"storage failed", "temporary files", "retrying will not help"}, []string{"Try again", "not written"}},
		{"an append", &appendError{failed}, []string{"storage failed", "retrying will not help", "This append was not written"}, []string{"Try again"}},
		{"an append of unknown outcome", &appendError{fmt.Errorf("%w: %w", eventstore.ErrOutcomeUnknown, failed)},
			[]string{"may have been written"}, []string{"not written"}},
	} {
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest(http.MethodPost, "/streams/x/events", nil), tc.err)
		body := w.Body.String()
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %s; want 503", tc.name, w.Code, body)
			continue
		}
		for _, want := range tc.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s: problem %s; want it to say %q", tc.name, body, want)
			}
		}
		for _, not := range tc.not {
			if strings.Contains(body, not) {
				t.Errorf("%s: problem %s; want it not to say %q", tc.name, body, not)
			}
		}
	}
}

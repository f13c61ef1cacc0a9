package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAnAppendCutByTheStopIsToldWhatBecameOfIt: a request the stop cut
// (Cut) is answered 503 saying the server is stopping; an append whose
// store error is its context's end alone was not written, and is told so,
// but one whose outcome is unknown (its commit under way as the stop cut
// it) must be told that it may have been written, never "not written", and
// a request whose client is gone is not the stop's.
func TestAnAppendCutByTheStopIsToldWhatBecameOfIt(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{})
	cutCtx, cut := context.WithCancelCause(context.Background())
	cut(errCut)
	for _, tc := range []struct {
		name string
		err  error
		says []string
		not  string
	}{
		{"a read", fmt.Errorf("read stream: %w", context.Canceled), []string{"stopping"}, "append"},
		{"an append not written", &appendError{fmt.Errorf("append: %w before it could be written", context.Canceled)}, []string{"stopping", "not written"}, ""},
		{"an append whose outcome is unknown", &appendError{fmt.Errorf("append: %w: %w: %w", eventstore.ErrUnavailable, eventstore.ErrOutcomeUnknown, context.Canceled)}, []string{"may have been written"}, "not written"},
	} {
		w := httptest.NewRecorder()
		s.writeError(w, httptest.NewRequest(http.MethodPost, "/streams/x/events", nil).WithContext(cutCtx), tc.err)
		var p struct{ Detail string }
		_ = json.Unmarshal(w.Body.Bytes(), &p)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s, cut by the stop: %d, Retry-After %q; want 503 with Retry-After", tc.name, w.Code, w.Header().Get("Retry-After"))
		}
		for _, want := range tc.says {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("%s, cut by the stop: detail %q; want it to say %q", tc.name, p.Detail, want)
			}
		}
		if tc.not != "" && strings.Contains(p.Detail, tc.not) {
			t.Errorf("%s, cut by the stop: detail %q; want it not to say %q", tc.name, p.Detail, tc.not)
		}
	}
	// A client gone before the stop is answered nothing, as ever.
	goneCtx, gone := context.WithCancel(context.Background())
	gone()
	w := httptest.NewRecorder()
	s.writeError(w, httptest.NewRequest(http.MethodGet, "/streams/x", nil).WithContext(goneCtx), context.Canceled)
	if w.Body.Len() != 0 {
		t.Errorf("a request whose client left: answered %d %s; want nothing", w.Code, w.Body.String())
	}
}

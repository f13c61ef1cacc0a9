package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestAnAnswersLongNumberIsNotQuotedWholeInAnError: encoding/json's error
// for a number that does not fit its field quotes the number whole, and the
// client wrapped it as it came: a server or proxy that wrote a position, a
// version, of 100,000 digits made a read's, a subscription's or an
// append's error 100 KiB long, into the caller's logs. The decode error is
// now cut to one line of at most 300 bytes, and still wraps what it wrapped
// (an append's ErrOutcomeUnknown, a page's errAnswerTooLong).
func TestAnAnswersLongNumberIsNotQuotedWholeInAnError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("1", 100<<10)
	check := func(what string, err error) {
		t.Helper()
		if err == nil || len(err.Error()) > 2048 {
			n := 0
			if err != nil {
				n = len(err.Error())
			}
			t.Errorf("%s: an error of %d bytes (%.300v); expected one of at most 2 KiB", what, n, err)
		}
	}

	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"events":[{"position":`+long+`}]}`) //nolint:errcheck // a test's answer
	})
	var last error
	for _, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
		last = err
	}
	check("ReadAll", last)

	c = serving(t, func(w http.ResponseWriter, r *http.Request) {
		startEventStream(w)
		io.WriteString(w, "id: 1\ndata: {\"position\":"+long+"}\n\n") //nolint:errcheck // a test's answer
	})
	last = nil
	for _, err := range c.Subscribe(context.Background(), SubscribeOptions{MaxFrameBytes: 1 << 20}) {
		if err != nil {
			last = err
			break
		}
	}
	check("Subscribe", last)

	c = serving(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // a test's answer
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"version":`+long[:50<<10]+`}`) //nolint:errcheck // a test's answer
	})
	_, err := c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "A", Data: map[string]any{}})
	check("Append", err)
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("Append: %.300v; expected it to wrap ErrOutcomeUnknown still", err)
	}
}

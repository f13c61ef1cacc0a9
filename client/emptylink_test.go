package client

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
)

// TestAnEmptyNextLinkIsTheSamePageNotTheEnd: a Link of <>; rel="next" is
// a reference to the page itself (RFC 3986 §5.2: an empty reference is
// its base), which a read that followed it would ask for again without
// end. It was taken for no link at all, and ReadAll ended after its first
// page as if the log ended there, without an error. It now ends with the
// error of a next link that does not move on.
func TestAnEmptyNextLinkIsTheSamePageNotTheEnd(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	var requests atomic.Int64
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Link", `<>; rel="next"`)
		w.Header().Set("Content-Type", "application/json")
		evs := []string{eventJSON(uuid.New(), stream, 1, 21), eventJSON(uuid.New(), stream, 2, 22)}
		io.WriteString(w, `{"events":[`+strings.Join(evs, ",")+`]}`) //nolint:errcheck // a test's answer
	})
	var got int
	var last error
	for _, err := range c.ReadAll(context.Background(), ReadAllOptions{After: 20}) {
		if err != nil {
			last = err
			break
		}
		got++
	}
	if last == nil || !strings.Contains(last.Error(), "does not move on") {
		t.Errorf("%d events, then %v after %d requests; expected an error saying the next link does not move on", got, last, requests.Load())
	}
}

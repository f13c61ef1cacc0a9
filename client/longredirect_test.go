package client

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestAnAppendRedirectedToALongURLSaysItShort: an append a 303 turned
// into a GET ended with an error naming the URL net/http followed, the
// Location the server or a proxy wrote, whole: one of 100 KiB made the
// error as long, into the caller's logs. It is now cut to 200 bytes.
func TestAnAppendRedirectedToALongURLSaysItShort(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100<<10)
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // a test's answer
		if r.Method == http.MethodPost {
			http.Redirect(w, r, "/elsewhere?pad="+long, http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{}`) //nolint:errcheck // a test's answer
	})
	_, err := c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "A", Data: map[string]any{}})
	if err == nil || len(err.Error()) > 2048 || !strings.Contains(err.Error(), "redirected the append") {
		n := 0
		if err != nil {
			n = len(err.Error())
		}
		t.Errorf("an error of %d bytes (%.300v); expected one saying the append was redirected, of at most 2 KiB", n, err)
	}
}

package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
)

// TestAppendSaysWhyItRefusesRawData: a json.RawMessage nested deeper than
// encoding/json reads (10,000 levels, as the server) was refused as "not
// valid JSON", which it is: the caller looked for a syntax error. The
// error now says why, a syntax error as such and the depth as such, and
// nothing is sent; data 10,000 deep, which the server takes, is sent.
func TestAppendSaysWhyItRefusesRawData(t *testing.T) {
	t.Parallel()
	var sent atomic.Int64
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		http.Error(w, "not here", http.StatusTeapot)
	})
	deep := func(n int) json.RawMessage {
		return json.RawMessage(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	for _, tc := range []struct {
		name string
		data json.RawMessage
		want string
	}{
		{"a syntax error", json.RawMessage(`{bad`), "invalid character 'b'"},
		{"nested past 10,000 levels", deep(10001), "exceeded max depth"},
	} {
		before := sent.Load()
		_, err := c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "Noted", Data: tc.data})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Append returned %v; want an error saying %q", tc.name, err, tc.want)
		}
		if sent.Load() != before {
			t.Errorf("%s: Append sent the request; want it refused before sending", tc.name)
		}
	}
	before := sent.Load()
	c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{Type: "Noted", Data: deep(10000)}) //nolint:errcheck // the teapot's answer
	if sent.Load() != before+1 {
		t.Errorf("data 10,000 levels deep was not sent; want it sent, as the server takes it")
	}
}

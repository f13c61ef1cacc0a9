package http_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// TestALimitOnASubscriptionIsRefusedAsDirectionBackwardIs: a subscription
// took limit, checked as a page's, and ignored it: GET /events?limit=5 with
// Accept: text/event-stream sent every event, for ever, while
// direction=backward was refused as only for pages (the API tester). A
// limit is refused the same way, on the log and on a stream, GET and HEAD,
// with a 400 problem naming it; a page still takes it.
func TestALimitOnASubscriptionIsRefusedAsDirectionBackwardIs(t *testing.T) {
	t.Parallel()
	store, _, srv := liveServer(t, esthttp.Options{})
	id := uuid.New()
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}, {Type: "X", Data: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	stream := "/streams/" + id.String() + "/events"
	do := func(method, path, accept string) (*http.Response, string) {
		t.Helper()
		// Bounds a subscription wrongly opened, which never ends by itself.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp, string(body)
	}
	for _, path := range []string{"/events?limit=5", "/events?after=1&limit=1000", "/events?type=X&limit=1",
		stream + "?limit=5", stream + "?from=2&limit=1"} {
		for _, method := range []string{"GET", "HEAD"} {
			resp, body := do(method, path, "text/event-stream")
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s %s as a subscription: %d %s; want a 400 problem: limit is only for pages\n%s",
					method, path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
				continue
			}
			if method == "GET" && (!strings.Contains(body, "limit") || !strings.Contains(body, "only for pages")) {
				t.Errorf("%s %s as a subscription: %s; want a problem saying that limit is only for pages", method, path, body)
			}
		}
	}
	for _, path := range []string{"/events?limit=1", stream + "?limit=1"} {
		if resp, body := do("GET", path, "application/json"); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s as a page: %d; want 200: a page takes limit\n%s", path, resp.StatusCode, body)
		}
	}
}

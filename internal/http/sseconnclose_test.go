package http_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionSaysItsConnectionClosesWhenItEnds: a subscription, once
// live, is taken over from net/http, and its connection is closed when it
// ends (the client leaves, a stop, its token removed): it said nothing of
// it, so a client that saw the body end cleanly (a problem event, then the
// end) put the connection back in its pool, and its next request, an
// append, was sent on a connection the server had closed: EOF, and Go's
// client does not send a POST again (TestASubscriptionWhoseTokenIsRemovedEnds
// failed 5 times in 80 so). Every subscription over HTTP/1.1 now says
// Connection: close. On both stores.
func TestASubscriptionSaysItsConnectionClosesWhenItEnds(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go feed.Run(ctx) //nolint:errcheck // ends with the test
		s := serveWith(t, feed.Notifying(store), esthttp.Options{OpenAPI: api.OpenAPI, Feed: feed, Heartbeat: time.Hour})
		for _, path := range []string{"/events", "/streams/0d9c1f4e-6b1a-4b8e-9a57-2f6a1c3d4e5f/events"} {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req) // the contract's transport reads a body to its end
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !resp.Close {
				t.Errorf("GET %s as text/event-stream: %d, Close %v; want 200 saying Connection: close", path, resp.StatusCode, resp.Close)
			}
		}
	})
}

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
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStartPastAHeadBehindItsEventsIsTheDamageNotAStartAhead: with the
// log's head behind its events (log_head edited by hand, tables restored
// from dumps taken apart), an EventSource resuming from the last event it
// got, which is stored but past the head, was answered 409
// starting-point-ahead, saying its id may come from another database and
// to subscribe again from after=0: it stopped for good, and a client that
// followed the advice read the whole log again, for the server's damage.
// It is the damage's 503 (as appends and /readyz are), naming the head,
// without Retry-After, and once the head is mended the same start
// resumes. Found by the twenty-third session's black-box re-test (F2).
// A subscription from below the head is that 503 too, the first one
// included: it was served, read history up to the head, and ended once
// the feed met the events past it (it streamed them as live events until
// the twenty-fourth session's reviews, and the first one, with nobody
// subscribed, was served after them).
func TestAStartPastAHeadBehindItsEventsIsTheDamageNotAStartAhead(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store, _, srv := liveServerOf(t, k, esthttp.Options{MaxSubscribers: 2, MaxSubscribersPerClient: 1}, nil)
		var last uuid.UUID // the stream of the event at 5
		for range 5 {
			last = uuid.New()
			_, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: last, StreamType: "thing",
				Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		k.Exec(t, store, "UPDATE log_head SET position = 3 WHERE id = 1")

		get := func(path string, header map[string]string) (int, string, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			for name, v := range header {
				req.Header.Set(name, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				return resp.StatusCode, "", "" // a subscription: it goes on
			}
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body), resp.Header.Get("Retry-After")
		}
		// A subscription from the start, below the head: the damage's 503
		// once the feed has read the head (its next poll: until then it
		// knows no damage, as for any other). One served before that ends
		// at that poll; that the feed, nobody subscribed, finds the damage
		// itself, so that the first one is refused too, is the feed's test
		// (TestAFeedWithNoSubscriberFindsAHeadBehindItsEvents): this one
		// cannot see when the feed polled.
		fromStart := map[string]string{"Accept": "text/event-stream"}
		status, body, retry := get("/events?after=0", fromStart)
		for i := 0; i < 3000 && status == http.StatusOK; i++ {
			time.Sleep(10 * time.Millisecond)
			status, body, retry = get("/events?after=0", fromStart)
		}
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "log head is behind") || retry != "" {
			t.Errorf("a subscription from the start, below the head (3) behind its events (5): %d (Retry-After %q) %s; "+
				"want the damage's 503, naming the log head, without Retry-After (it was served, then ended)", status, retry, body)
		}
		sse := map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "5"}
		for _, c := range []struct {
			what   string
			path   string
			header map[string]string
		}{
			{"a subscription with Last-Event-ID 5", "/events", sse},
			{"a subscription after=4", "/events?after=4", map[string]string{"Accept": "text/event-stream"}},
			{"a page with " + esthttp.MinPositionHeader + " 5", "/events", map[string]string{esthttp.MinPositionHeader: "5"}},
			{"a page after 2", "/events?after=2", nil},
			// Its version 1 at 5, past the head: it was sent a caught-up
			// frame before the feed ended it.
			{"a stream subscription from=2", "/streams/" + last.String() + "/events?from=2", map[string]string{"Accept": "text/event-stream"}},
		} {
			status, body, retry := get(c.path, c.header)
			if status != http.StatusServiceUnavailable || !strings.Contains(body, "log head is behind") || retry != "" ||
				strings.Contains(body, "starting-point-ahead") || strings.Contains(body, "after=0") {
				t.Errorf("%s, the log's head (3) behind its events (5): %d (Retry-After %q) %s; "+
					"want the damage's 503, naming the log head, without Retry-After (no retry mends it), not a start ahead", c.what, status, retry, body)
			}
		}

		k.Exec(t, store, "UPDATE log_head SET position = 5 WHERE id = 1") // mended
		status, body, _ = get("/events", sse)
		// Until the feed's next poll finds the head mended (it answers the
		// damage it met till then).
		for i := 0; i < 3000 && status == http.StatusServiceUnavailable && strings.Contains(body, "log head is behind"); i++ {
			time.Sleep(10 * time.Millisecond)
			status, body, _ = get("/events", sse)
		}
		if status != http.StatusOK {
			t.Errorf("a subscription with Last-Event-ID 5 once the head is mended: %d %s; want it to resume (200)", status, body)
		}
		if status, body, _ := get("/events", map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "9"}); status != http.StatusConflict ||
			!strings.Contains(body, "starting-point-ahead") {
			t.Errorf("a subscription with Last-Event-ID 9 past a sound log's head (5): %d %s; want 409 starting-point-ahead", status, body)
		}
	})
}

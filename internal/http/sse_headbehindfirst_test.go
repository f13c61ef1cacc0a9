package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheFirstStartAfterAHeadWentBehindItsEventsIsTheDamage: a
// subscription opened after the log's head was set behind its events
// (log_head edited by hand, tables restored from dumps taken apart) and
// before the live feed's next poll read it was served (200), and ended by
// that poll, while the ones after it were refused the damage's 503: its
// start read the head alone (the store's Head), which said nothing of the
// events past it. The start's read of the head now reads the first
// position past it in the same statement, as the feed's does, so that
// subscription is the same 503. The feed here polls once an hour: only
// a subscription's own start can find the damage. Found by the
// twenty-fifth session's review of the damage's edges.
func TestTheFirstStartAfterAHeadWentBehindItsEventsIsTheDamage(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		var last uuid.UUID
		for range 5 {
			last = uuid.New()
			_, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: last, StreamType: "thing",
				Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		feed := fanout.New(store, fanout.Options{PollInterval: time.Hour})
		feedCtx, stopFeed := context.WithCancel(context.Background())
		t.Cleanup(stopFeed)
		go feed.Run(feedCtx)
		h := esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed})
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnContext = esthttp.ConnContext
		srv.Start()
		t.Cleanup(srv.Close)
		t.Cleanup(h.CloseSubscriptions)

		get := func(path string) (int, string) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return resp.StatusCode, "(a subscription, served)"
			}
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		// The feed has started (its first read of the head, before the
		// damage) once a subscription is served: the log is sound yet.
		if status, body := get("/events?after=5"); status != http.StatusOK {
			t.Fatalf("a subscription of a sound log: %d %s; want 200", status, body)
		}

		k.Exec(t, store, "UPDATE log_head SET position = 3 WHERE id = 1")
		for _, path := range []string{"/events?after=0", "/events?after=3", "/streams/" + last.String() + "/events"} {
			status, body := get(path)
			if status != http.StatusServiceUnavailable || !strings.Contains(body, "log head is behind") {
				t.Errorf("GET %s, the log's head (3) set behind its events (5) since the feed last polled: %d %s; "+
					"want the damage's 503 naming the log head, as once the feed has polled", path, status, body)
			}
		}
	})
}

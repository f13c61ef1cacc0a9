package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionOpenedBeforeTheFeedFindsAHeadBehindItsEventsEndsWithItsProblem:
// with log_head set behind its events, a subscription opened before the
// live feed's next poll read the head is served (its start reads the head
// alone: a read of the events before its headers would wait on a lock on
// them), and then ended by that poll, while every later one is refused
// the damage's 503. The one served was ended with nothing but the end of
// its body: an EventSource reconnected and stopped on the 503, its user
// never told why the first one ended. Its end now carries the 503's
// problem as event: problem, the same that refuses the next one. On both
// stores; the feed polls only when woken, so that the window is there.
func TestASubscriptionOpenedBeforeTheFeedFindsAHeadBehindItsEventsEndsWithItsProblem(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		feed := runFeed(t, store, fanout.Options{PollInterval: time.Hour})
		_, srv := serveFeed(t, feed, store, esthttp.Options{Heartbeat: time.Hour}, nil)
		notifying := feed.Notifying(store)
		for range 5 {
			if _, err := notifying.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing",
				Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}}); err != nil {
				t.Fatal(err)
			}
		}
		client := &http.Client{Timeout: 30 * time.Second} // a hang guard: the server ends what it is asked
		subscribe := func() *http.Response {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events?after=0", nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		// The feed has taken the appends in (they woke it): a subscription
		// of the sound log catches up at 5.
		sound := subscribe()
		caughtUp := func(resp *http.Response) string {
			t.Helper()
			p := ssetest.NewParser(resp.Body, "")
			for {
				f, _, err := p.Next()
				if err != nil {
					t.Fatalf("reading up to the caught-up: %v", err)
				}
				if f.Event == "caught-up" {
					return f.Data
				}
			}
		}
		if at := caughtUp(sound); at != "5" {
			t.Fatalf("a subscription of the sound log caught up at %s; want 5", at)
		}
		sound.Body.Close()

		k.Exec(t, store, "UPDATE log_head SET position = 3 WHERE id = 1")
		served := subscribe()
		if served.StatusCode != http.StatusOK {
			t.Fatalf("a subscription before the feed's next poll: %d; want 200 (nothing has read past the head yet)", served.StatusCode)
		}
		// Its read of history may meet the damage itself (the store's read
		// of the log reads the head in its statement); else the poll does.
		feed.Notify()
		rest, err := io.ReadAll(served.Body)
		if err != nil {
			t.Fatalf("the subscription served: its end: %v (got %q)", err, rest)
		}

		refused := subscribe()
		var want endProblem
		if err := json.NewDecoder(refused.Body).Decode(&want); err != nil || refused.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("a subscription once the feed found the damage: %d, %+v (%v); want the damage's 503", refused.StatusCode, want, err)
		}
		if got := problemEvent(t, rest); got != want {
			t.Errorf("the subscription served before the feed found the head behind its events ended with %q, its problem event %+v; "+
				"want the problem the next one is refused with, %+v", rest, got, want)
		}
	})
}

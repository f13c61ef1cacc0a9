package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPanicInASubscriptionsReadBeforeItOpensGivesBackItsTurn: a stream
// subscription from a later version reads its stream before it opens, in a
// turn among the reads of history (fanout's Reading). A panic in that read
// (recovered as a 500) kept the turn for good: with CatchUpReads such
// panics, every subscription's read of history and every read before one
// opens waited for a turn that never came. Here the feed has one turn; once
// the panicking request has its answer, the turn is free again.
func TestAPanicInASubscriptionsReadBeforeItOpensGivesBackItsTurn(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		feed := fanout.New(k.Open(t), fanout.Options{CatchUpReads: 1})
		srv := httptest.NewServer(esthttp.New(panicStore{}, esthttp.Options{Feed: feed}))
		t.Cleanup(srv.Close)
		for _, path := range []string{"/streams/%s/events?from=2", "/streams/%s/events"} {
			req, _ := http.NewRequest("GET", srv.URL+fmt.Sprintf(path, uuid.New()), nil)
			req.Header.Set("Accept", "text/event-stream")
			if path == "/streams/%s/events" {
				req.Header.Set("Last-Event-ID", "3")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("GET %s whose read of its stream panics: %d; want 500", path, resp.StatusCode)
			}
			// A hang guard, not a measure: a free turn is taken at once.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			done, err := feed.Reading(ctx)
			cancel()
			if err != nil {
				t.Fatalf("after GET %s, whose read of its stream panicked: a turn among the reads of history: %v; "+
					"want the feed's one turn free (the panicking read kept it)", path, err)
			}
			done()
		}
	})
}

package http_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// stuckHistory is a store whose reads of history, once stuck is set, wait
// until their context ends: a database that takes long over them, or a read
// pool that others hold.
type stuckHistory struct {
	eventstore.Store
	stuck   atomic.Bool
	waiting atomic.Int64 // reads waiting now
}

func (s *stuckHistory) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if s.stuck.Load() {
		s.waiting.Add(1)
		defer s.waiting.Add(-1)
		<-ctx.Done()
		return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, ctx.Err())
	}
	return s.Store.ReadAll(ctx, opts)
}

// TestShutdownEndsSubscriptionsWaitingOnReadsOfHistoryAtOnce: a
// subscription catching up went on reading history after shutdown began,
// with a context that only its client's leaving ended: one whose read
// waited on the database (a slow query, or the read pool others held) held
// the drain for as long, up to the 30 s of the read timeout, and a hundred
// of them queued on the pool held it for the whole shutdown timeout.
// Shutdown ends those reads at once, and the waits for a turn to read
// (fanout's CatchUpReads), and every such response ends cleanly, with its
// closing chunk. On both stores.
func TestShutdownEndsSubscriptionsWaitingOnReadsOfHistoryAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		base := k.Open(t)
		if _, err := base.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		store := &stuckHistory{Store: base}
		// Two reads in flight; the other subscriptions wait their turn.
		const reads = 2
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, CatchUpReads: reads})
		feedCtx, stopFeed := context.WithCancel(context.Background())
		t.Cleanup(stopFeed)
		go feed.Run(feedCtx)
		h := esthttp.New(feed.Notifying(base), esthttp.Options{Feed: feed, Heartbeat: time.Second})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		t.Cleanup(h.CloseSubscriptions)

		store.stuck.Store(true)
		const subscribers = 8
		bodies := make(chan io.ReadCloser, subscribers)
		for range subscribers {
			req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			bodies <- resp.Body
		}
		close(bodies)
		for end := time.Now().Add(5 * time.Second); store.waiting.Load() < reads; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%d subscriptions read history, want %d; the test proves nothing", store.waiting.Load(), reads)
			}
		}
		time.Sleep(100 * time.Millisecond) // and the others wait for their turn

		start := time.Now()
		h.CloseSubscriptions()
		ended := make(chan string, subscribers)
		for b := range bodies {
			go func() {
				got, err := io.ReadAll(b) // to the closing chunk: a clean end
				if err != nil {
					ended <- fmt.Sprintf("ended with %v after %q", err, got)
					return
				}
				ended <- ""
			}()
		}
		for range subscribers {
			select {
			case msg := <-ended:
				if msg != "" {
					t.Errorf("a subscription reading history at shutdown: expected a clean end, it %s", msg)
				}
			case <-time.After(30 * time.Second):
				// Only a bound on a hang: a read that shutdown does not end
				// waits on the stuck store for ever.
				t.Fatalf("subscriptions whose reads of history waited on the store were still open %s after shutdown began; "+
					"expected them to stop reading and end at once (%d reads still waiting)", time.Since(start).Round(time.Millisecond), store.waiting.Load())
			}
		}
	})
}

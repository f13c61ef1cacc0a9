package http_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// streamReadsAtOnce is a store that counts its reads of a stream in flight,
// and the most there were at once. Each read holds on a moment, so that
// reads that do not take turns overlap.
type streamReadsAtOnce struct {
	eventstore.Store
	inFlight, most atomic.Int64
	reads          atomic.Int64
}

func (s *streamReadsAtOnce) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	s.reads.Add(1)
	time.Sleep(10 * time.Millisecond) // a chance for others to overlap it
	return s.Store.Stream(ctx, id)
}

// TestSubscriptionsWaitingForAStreamVersionTakeTurnsToReadIt: where reads
// may lag (a Galera node, a read replica), a stream subscription resuming
// past the version the node has waits for it, reading the stream each poll.
// Those reads took no turn among the reads of history (fanout's Reading):
// a crowd of EventSources reconnecting to a lagging node read the stream
// all at once, each on a connection of the read pool, and clients' reads of
// pages waited for one. They take turns now: no more stream reads are in
// flight at once than the feed's CatchUpReads. On both stores.
func TestSubscriptionsWaitingForAStreamVersionTakeTurnsToReadIt(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const turns = 2
		store := k.Open(t)
		counting := &streamReadsAtOnce{Store: store}
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, CatchUpReads: turns})
		feedCtx, stopFeed := context.WithCancel(context.Background())
		t.Cleanup(stopFeed)
		go feed.Run(feedCtx)
		h := esthttp.New(feed.Notifying(counting), esthttp.Options{Feed: feed, ReadsMayLag: true, RequestTimeout: 1500 * time.Millisecond})
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnContext = esthttp.ConnContext
		srv.Start()
		t.Cleanup(srv.Close)
		t.Cleanup(h.CloseSubscriptions)

		id, _ := appendOneEvent(t, store)
		const opening = 12
		var wg sync.WaitGroup
		statuses := make(chan int, opening)
		for range opening {
			wg.Go(func() {
				resp, _, _ := getTimed(t, srv.URL+"/streams/"+id.String()+"/events", "text/event-stream", "Last-Event-ID", "3")
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		for code := range statuses {
			if code != http.StatusServiceUnavailable {
				t.Fatalf("a subscription resuming past its stream's version where reads may lag answered %d; want 503 after its wait", code)
			}
		}
		if reads := counting.reads.Load(); reads <= opening {
			t.Fatalf("the %d waiting subscriptions read their stream %d times; want them to read it again while they wait", opening, reads)
		}
		if most := counting.most.Load(); most > turns {
			t.Errorf("%d subscriptions waiting for their stream's version read it %d at once; want at most the feed's %d turns", opening, most, turns)
		}
	})
}

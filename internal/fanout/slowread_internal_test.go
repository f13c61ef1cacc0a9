package fanout

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// slowReads is a store whose reads of history take delay before they answer
// (a database under load), and as long again before every tenth event (the
// store reads a page in chunks, on demand), and counted in reads.
func slowReads(store eventstore.Store, delay time.Duration, reads *atomic.Int64) *WatchedReads {
	return &WatchedReads{Store: store, Reads: func(context.Context) (func(eventstore.Event, error), func()) {
		reads.Add(1)
		time.Sleep(delay)
		n := 0
		return func(eventstore.Event, error) {
			if n++; n%10 == 0 {
				time.Sleep(delay) // the next chunk's query
			}
		}, nil
	}}
}

// TestASlowReadOfTheStoreIsNotCountedAgainstTheTurn: a subscription that
// has held its catch-up place for its turn, with others waiting, ends its
// page after the event it wrote: its client is slow. The turn was counted
// from the moment the place was granted, so a read of the store slower than
// the turn (a database under load) used it up before the first event, and
// every page after it held one event: a query for each event of history,
// for every subscription, while the database was already slow. The turn
// now counts only what the consumer takes, not the reads of the page's
// chunks either. On both stores.
func TestASlowReadOfTheStoreIsNotCountedAgainstTheTurn(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		const events = 60
		appendPage(t, store, events)
		var reads atomic.Int64
		f, ctx := runOnePlace(t, slowReads(store, 60*time.Millisecond, &reads), 40*time.Millisecond) // a turn less than a read

		var wg sync.WaitGroup
		got := make([][]int64, 3)
		for i := range got {
			wg.Go(func() {
				sub := f.Subscribe(eventstore.SubscribeOptions{})
				defer sub.Close()
				// A generous bound, so that a reader never caught up ends
				// the test with its count rather than hanging it.
				ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				defer cancel()
				if err := readToCaughtUp(ctx, sub, func(e *eventstore.Event) { got[i] = append(got[i], e.Position) }); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		for i, g := range got {
			checkEveryEventOnceInOrder(t, fmt.Sprintf("subscription %d", i), g, events)
		}
		// A page each, and the empty one that ends it: about two reads a
		// subscription, where a read per event was 60.
		if n := reads.Load(); n > 4*int64(len(got)) {
			t.Errorf("three subscriptions read %d pages of history for %d events each, with reads slower than the turn; want a few each", n, events)
		}
	})
}

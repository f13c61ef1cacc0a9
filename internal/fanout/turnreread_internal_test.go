package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// eventsReadStore counts in events the events its ReadAll pages hand out.
func eventsReadStore(store eventstore.Store, events *atomic.Int64) *WatchedReads {
	return &WatchedReads{Store: store, Reads: func(context.Context) (func(eventstore.Event, error), func()) {
		return func(_ eventstore.Event, err error) {
			if err == nil {
				events.Add(1)
			}
		}, nil
	}}
}

// TestASlowReadersTurnsDoNotReadTheStoreOverAndOver: a subscription whose
// consumer is slow, with others waiting for a place, ends its page after
// its turn and queues again (TestASlowReaderGivesItsCatchUpPlaceToThoseWaiting);
// the rest of that page was thrown away and its next turn read a whole
// page again from its cursor: two readers writing one event a turn read
// each event of a page of 60 some 30 times over. The page after a turn
// cut short now holds about what the consumer wrote in its turn (twice as
// many after a page written whole): the store hands out each event a few
// times at most, and each reader still gets every event once, in order.
// On both stores.
func TestASlowReadersTurnsDoNotReadTheStoreOverAndOver(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		inner := k.Open(t)
		const events = 60 // one page
		appendPage(t, inner, events)
		var handed atomic.Int64
		store := eventsReadStore(inner, &handed)
		f, ctx := runOnePlace(t, store, time.Millisecond)

		// Two readers, each of whose consumers takes a whole turn over
		// every event: each turn is cut after one event while the other
		// waits for the only place.
		read := func(name string) []int64 {
			sub := f.Subscribe(eventstore.SubscribeOptions{})
			defer sub.Close()
			var got []int64
			err := readToCaughtUp(ctx, sub, func(e *eventstore.Event) {
				got = append(got, e.Position)
				time.Sleep(f.turn)
			})
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			return got
		}
		var wg sync.WaitGroup
		var gotA, gotB []int64
		wg.Go(func() { gotA = read("a") })
		wg.Go(func() { gotB = read("b") })
		wg.Wait()
		checkEveryEventOnceInOrder(t, "reader a", gotA, events)
		checkEveryEventOnceInOrder(t, "reader b", gotB, events)
		// Each event handed to two readers: 120 at the least.
		if n := handed.Load(); n > 4*2*events {
			t.Errorf("the store handed out %d events for two readers of %d; want at most %d (a few reads of each)", n, events, 4*2*events)
		}
	})
}

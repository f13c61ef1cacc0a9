package fanout_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// heldReads holds every read of history until open is closed.
type heldReads struct {
	fanout.Store
	open    chan struct{}
	waiting atomic.Int64 // reads held at the gate
}

func (g *heldReads) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	g.waiting.Add(1)
	select {
	case <-g.open:
	case <-ctx.Done():
		return eventstore.LogPage{}, ctx.Err()
	}
	return g.Store.ReadAll(ctx, opts)
}

// TestPlacesTakenBeforeALargeEventIsSeenCountItOnceItIs: places count the
// largest event the feed has read (stored under a larger bound than
// MaxEventBytes), but only places taken after it was read: the places
// granted, and those queued, before the first read of one kept counting
// MaxEventBytes. So the first readers held pages of large events counted
// as small ones, and every subscription queued meanwhile was then let in at
// the small size, as many at once as small places fit: the budget was
// exceeded once for each of them, not once. Here the bound is 64 KiB, the
// log holds events of 1000 KiB, and the budget holds two places at 64 KiB
// but one at 1000 KiB; two subscriptions read first, four wait in the
// queue. On both stores.
func TestPlacesTakenBeforeALargeEventIsSeenCountItOnceItIs(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		var ack acked
		data := ack.appendPadded(t, store, 6, 1, "Big", 1000<<10)
		hs := newHoldingStore(store)
		gs := &heldReads{Store: hs, open: make(chan struct{})}
		const budget = 3 << 20 // two places at 64 KiB (1.3 MiB), one at 1000 KiB (2.2 MiB)
		f := runFeed(t, gs, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 64 << 10, CatchUpBytes: budget})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)

		// open subscribes with a consumer that stalls on the second event
		// (with the page's two events handed out) until release is closed,
		// and reads on until it has caught up (caughtUp counts it then).
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got [][]*eventstore.Event
		open := func(stalled, caughtUps *atomic.Int64, release chan struct{}) {
			mu.Lock()
			got = append(got, nil)
			i := len(got) - 1
			mu.Unlock()
			wg.Go(func() {
				sub := f.Subscribe(eventstore.SubscribeOptions{})
				defer sub.Close()
				var mine []*eventstore.Event
				caughtUp := false
				emit := func(d eventstore.Delivery) error {
					if d.Event != nil {
						if mine = append(mine, d.Event); len(mine) == 2 {
							stalled.Add(1)
							<-release
						}
						hs.wrote(i, d.Event)
					}
					caughtUp = caughtUp || d.CaughtUp
					return nil
				}
				drive(holding(ctx, i), sub, emit, func() bool { return caughtUp })
				caughtUps.Add(1)
				mu.Lock()
				got[i] = mine
				mu.Unlock()
			})
		}
		var firstStalled, firstDone atomic.Int64
		releaseFirst := make(chan struct{})
		for range 2 {
			open(&firstStalled, &firstDone, releaseFirst)
		}
		untilSettled(t, "two subscriptions to take a place and read", func() bool { return gs.waiting.Load() == 2 })
		var queuedStalled, queuedDone atomic.Int64
		releaseQueued := make(chan struct{})
		for range 4 {
			open(&queuedStalled, &queuedDone, releaseQueued)
		}
		untilSettled(t, "four subscriptions to wait for a place", func() bool { return fanout.CatchUpQueued(f) == 4 })
		close(gs.open)

		// Each counted its place as its read met the large events, before
		// its consumer had the page.
		untilSettled(t, "the first two to read a page", func() bool { return firstStalled.Load() == 2 })
		// A stalled consumer holds its page of two events, read whole
		// before it is written.
		if held, counted := hs.heldNow(), f.CatchUpBytes(); held < 2*2*int64(len(data)) {
			t.Fatalf("the first two subscriptions, stalled, hold %d bytes of pages; want their two pages of two events (%d): the test proves nothing", held, 2*2*len(data))
		} else if counted < held {
			t.Errorf("the first two subscriptions held %d bytes of pages of large events, counted as %d in the budget; want at least what they hold", held, counted)
		}
		close(releaseFirst)
		// The first two queue again for their next pages, behind those
		// queued (or have caught up); of those, each has read a page and
		// stalled, or waits for a place: none moves until released.
		untilSettled(t, "every subscription to stall on a page, wait for a place or catch up", func() bool {
			return queuedStalled.Load()+int64(fanout.CatchUpQueued(f))+firstDone.Load() == 6
		})
		if n := queuedStalled.Load(); n != 1 {
			t.Errorf("%d subscriptions queued before the large events were seen read pages at once; want one", n)
		}
		if held := hs.heldNow(); held > budget {
			t.Errorf("the subscriptions queued before the large events were seen hold %d bytes of pages; want at most the budget, %d", held, budget)
		}
		close(releaseQueued)
		wg.Wait() // every one catches up
		for i, evs := range got {
			checkExactlyOnce(t, fmt.Sprintf("subscription %d", i), evs, ack.events)
		}
		if held := f.CatchUpBytes(); held != 0 {
			t.Errorf("every subscription caught up, and %d bytes of the budget are still counted as held; want none", held)
		}
	})
}

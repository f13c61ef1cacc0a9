package fanout_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

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
		data := []byte(`{"pad":"` + strings.Repeat("x", 1000<<10) + `"}`)
		for range 6 {
			if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Big", Data: data}}}); err != nil {
				t.Fatal(err)
			}
		}
		hs := &holdingStore{Store: store}
		gs := &heldReads{Store: hs, open: make(chan struct{})}
		const budget = 3 << 20 // two places at 64 KiB (1.3 MiB), one at 1000 KiB (2.2 MiB)
		f := runFeed(t, gs, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 64 << 10, CatchUpBytes: budget})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)

		// open subscribes with a consumer that stalls on the second event
		// (with the page's two events handed out) until release is closed.
		var wg sync.WaitGroup
		open := func(stalled, heldThen *atomic.Int64, release chan struct{}) {
			wg.Go(func() {
				sub := f.Subscribe(eventstore.SubscribeOptions{})
				defer sub.Close()
				n := 0
				emit := func(d eventstore.Delivery) error {
					if d.Event != nil {
						if n++; n == 2 {
							stalled.Add(1)
							heldThen.Store(max(heldThen.Load(), hs.held.Load()))
							<-release
						}
					}
					return nil
				}
				drive(ctx, sub, emit, nil)
			})
		}
		var firstStalled, firstHeld atomic.Int64
		releaseFirst := make(chan struct{})
		for range 2 {
			open(&firstStalled, &firstHeld, releaseFirst)
		}
		waitFor(t, 10*time.Second, "two subscriptions to take a place and read", func() bool { return gs.waiting.Load() == 2 })
		var queuedStalled, queuedHeld atomic.Int64
		releaseQueued := make(chan struct{})
		for range 4 {
			open(&queuedStalled, &queuedHeld, releaseQueued)
		}
		waitFor(t, 10*time.Second, "four subscriptions to wait for a place", func() bool { return fanout.CatchUpQueued(f) == 4 })
		close(gs.open)

		waitFor(t, 10*time.Second, "the first two to read a page", func() bool { return firstStalled.Load() == 2 })
		time.Sleep(100 * time.Millisecond) // both counted their places
		if held, counted := hs.held.Load(), f.CatchUpBytes(); counted < held {
			t.Errorf("the first two subscriptions held %d bytes of pages of large events, counted as %d in the budget; want at least what they hold", held, counted)
		}
		close(releaseFirst)
		waitFor(t, 10*time.Second, "a queued subscription to read a page", func() bool { return queuedStalled.Load() > 0 })
		time.Sleep(500 * time.Millisecond) // any more that would read, read now
		if n, held := queuedStalled.Load(), queuedHeld.Load(); n > 1 || held > budget {
			t.Errorf("%d subscriptions queued before the large events were seen read pages at once, holding %d bytes; want one (%d bytes of budget)", n, held, budget)
		}
		close(releaseQueued)
		cancel()
		wg.Wait()
	})
}

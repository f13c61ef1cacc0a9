package fanout_test

import (
	"context"
	"fmt"
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
		var ack acked
		for range 6 {
			res, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Big", Data: data}}})
			if err != nil {
				t.Fatal(err)
			}
			ack.add(res)
		}
		hs := &holdingStore{Store: store}
		gs := &heldReads{Store: hs, open: make(chan struct{})}
		const budget = 3 << 20 // two places at 64 KiB (1.3 MiB), one at 1000 KiB (2.2 MiB)
		f := runFeed(t, gs, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 64 << 10, CatchUpBytes: budget})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)

		// open subscribes with a consumer that stalls on the second event
		// (with the page's two events handed out) until release is closed,
		// and reads on until it has caught up.
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got [][]*eventstore.Event
		open := func(stalled, heldThen *atomic.Int64, release chan struct{}) {
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
							heldThen.Store(max(heldThen.Load(), hs.held.Load()))
							<-release
						}
					}
					caughtUp = caughtUp || d.CaughtUp
					return nil
				}
				drive(ctx, sub, emit, func() bool { return caughtUp })
				mu.Lock()
				got[i] = mine
				mu.Unlock()
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
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the subscriptions did not all catch up within 30 s of the stalled ones moving again")
		}
		for i, evs := range got {
			checkExactlyOnce(t, fmt.Sprintf("subscription %d", i), evs, ack.events)
		}
		if held := f.CatchUpBytes(); held != 0 {
			t.Errorf("every subscription caught up, and %d bytes of the budget are still counted as held; want none", held)
		}
	})
}

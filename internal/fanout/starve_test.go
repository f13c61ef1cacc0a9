package fanout_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestACatchUpIsNotStarvedByAChurnOfNewcomers: a place in the catch-up
// budget goes first to the waiting subscription that has read the least of
// its catch-up, and a subscription that had read a page was passed by every
// newcomer for as long as newcomers came: a client opening and closing
// subscriptions within its cap kept another client's large catch-up from
// its next page for ever. Here the budget has one place, a subscription
// that has read a page waits for its next, and each time the place is given
// back a newcomer (a stream of one event) is waiting beside it: the large
// catch-up must still reach its caught-up. On both stores.
func TestACatchUpIsNotStarvedByAChurnOfNewcomers(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		var ack acked
		ack.appendPadded(t, store, 6, 1, "X", 8<<10)
		small := uuid.New()
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: small, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "S", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		// One place (1 MiB + 64 KiB + 256 KiB), pages of two events.
		const place = 1<<20 + 64<<10 + 256<<10
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 64 << 10,
			CatchUpBytes: place, PageSize: 2})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		var log served

		// big reads its first page and stalls in it, holding the place.
		var caughtUp atomic.Bool
		bigRelease := make(chan struct{})
		bigBlocked := make(chan struct{})
		bigSub := f.Subscribe(eventstore.SubscribeOptions{})
		go func() {
			defer bigSub.Close()
			n := 0
			emit := func(d eventstore.Delivery) error {
				if d.CaughtUp {
					caughtUp.Store(true)
				}
				if d.Event == nil {
					return nil
				}
				log.add("big", d.Event.Position)
				if n++; n == 1 {
					close(bigBlocked)
					select {
					case <-bigRelease:
					case <-ctx.Done():
					}
				}
				return nil
			}
			for bigSub.Next(ctx, emit) == nil {
				select {
				case <-bigSub.Ready():
				case <-ctx.Done():
					return
				}
			}
		}()
		untilSettled(t, "the large catch-up to stall in its first page", func() bool {
			select {
			case <-bigBlocked:
				return true
			default:
				return false
			}
		})
		isBlocked := func(g *gatedSubscriber) bool {
			select {
			case <-g.blocked:
				return true
			default:
				return false
			}
		}
		// A newcomer queues; the place given back goes to it, and big
		// queues for its next page having read one.
		holder := gated(t, ctx, f.Subscribe(eventstore.SubscribeOptions{StreamID: small}), "n0", &log, 1)
		untilSettled(t, "the first newcomer to queue", func() bool { return fanout.CatchUpQueued(f) == 1 })
		close(bigRelease)
		untilSettled(t, "the first newcomer to take the place", func() bool { return isBlocked(holder) })

		// Each time the place is given back, a newcomer waits beside big.
		const newcomers = 60
		for i := 1; i <= newcomers && !caughtUp.Load(); i++ {
			untilSettled(t, "the large catch-up to queue for its next page", func() bool {
				return caughtUp.Load() || fanout.CatchUpQueued(f) == 1
			})
			if caughtUp.Load() {
				break
			}
			next := gated(t, ctx, f.Subscribe(eventstore.SubscribeOptions{StreamID: small}), "n", &log, 1)
			untilSettled(t, "a newcomer to queue beside the large catch-up", func() bool { return fanout.CatchUpQueued(f) == 2 })
			holder.unblock()
			// The place goes to big (which reads a page and gives it back)
			// or to next; next holds it in the end either way.
			untilSettled(t, "the newcomer to take the place", func() bool { return isBlocked(next) })
			holder = next
		}
		if !caughtUp.Load() {
			holder.unblock()
			t.Fatalf("a catch-up of three pages did not catch up while %d newcomers took the place one after another: served %s", newcomers, &log)
		}
	})
}

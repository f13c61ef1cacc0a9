package fanout_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionThatLeavesTheQueueLetsThoseBehindItRead: places in the
// catch-up budget go to the queue in order, so one that asks for more room
// than is free holds up those behind it. When it leaves the queue (its
// client went away, or the live buffer had what it waited for), those behind
// it that fit must read at once: they waited until some other place was
// given back, which a stalled client's is only at its stall timeout. On both
// stores.
func TestASubscriptionThatLeavesTheQueueLetsThoseBehindItRead(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		var ack acked
		ack.appendPadded(t, store, 3, 1, "X", 8<<10)
		// Two places: 1 MiB + 64 KiB + 256 KiB each.
		const place = 1<<20 + 64<<10 + 256<<10
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 64 << 10, CatchUpBytes: 2 * place})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)

		// holder takes one place and its consumer stalls on its first event.
		release := make(chan struct{})
		t.Cleanup(func() {
			select {
			case <-release:
			default:
				close(release)
			}
		})
		stalled := make(chan struct{})
		holder := f.Subscribe(eventstore.SubscribeOptions{})
		go func() {
			defer holder.Close()
			first := true
			emit := func(d eventstore.Delivery) error {
				if d.Event != nil && first {
					first = false
					close(stalled)
					<-release
				}
				return nil
			}
			for holder.Next(ctx, emit) == nil {
				select {
				case <-holder.Ready():
				case <-ctx.Done():
					return
				}
			}
		}()
		select {
		case <-stalled:
		case <-time.After(10 * time.Second):
			t.Fatal("the holder read nothing in 10 s")
		}

		// big reads under the other place, asks for more room than the
		// budget has free, and queues for it.
		big := f.Subscribe(eventstore.SubscribeOptions{}).(*fanout.Subscription)
		asked := false
		emit := func(d eventstore.Delivery) error {
			if d.Event != nil {
				asked = true
				return roomError(4 << 20)
			}
			return nil
		}
		for deadline := time.Now().Add(5 * time.Second); ; {
			if err := big.Next(ctx, emit); err != nil {
				t.Fatal(err)
			}
			if asked && !placed(big) {
				break // its page stopped for room, and it waits for a larger place
			}
			if time.Now().After(deadline) {
				t.Fatal("the subscription that needs room did not queue for it in 5 s")
			}
			select {
			case <-big.Ready():
			case <-time.After(time.Until(deadline)):
			}
		}
		select {
		case <-big.Ready():
			t.Fatal("a place with 4 MiB of room was granted beside a held place in a budget of two places: the test proves nothing")
		default:
		}

		// small queues behind it, and would fit beside the holder.
		small, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		untilSettled(t, "the second subscription to queue behind the one that needs room", func() bool { return fanout.CatchUpQueued(f) == 2 })
		if n := small.count(); n != 0 {
			t.Fatalf("a subscription behind one waiting for more room read %d events before it left; the test proves nothing", n)
		}
		big.Close() // its client went away

		waitFor(t, 30*time.Second, "the subscription behind one that left the queue to read, beside a stalled holder", func() bool {
			return small.count() == len(ack.events)
		})
		evs, _, _, _ := small.snapshot()
		checkExactlyOnce(t, "the subscription behind one that left the queue", evs, ack.events)
	})
}

package fanout_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// served records, in order, which subscription delivered which event.
type served struct {
	mu  sync.Mutex
	log []string
}

func (s *served) add(who string, p int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, fmt.Sprintf("%s@%d", who, p))
}

func (s *served) index(entry string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Index(s.log, entry)
}

func (s *served) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.log)
}

// gatedSubscriber drives sub on a goroutine of its own; its consumer
// records each event it delivers and, at the event numbered blockAt (1 for
// its first, 0 for none), blocks until release is closed, holding what it
// holds (its place in the catch-up budget).
type gatedSubscriber struct {
	blocked chan struct{} // closed once it blocks
	release chan struct{}
	once    sync.Once
}

// unblock lets its consumer go on, and never block again.
func (g *gatedSubscriber) unblock() { g.once.Do(func() { close(g.release) }) }

func gated(t *testing.T, ctx context.Context, sub eventstore.Subscription, who string, log *served, blockAt int) *gatedSubscriber {
	t.Helper()
	g := &gatedSubscriber{blocked: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(g.unblock)
	n := 0
	emit := func(d eventstore.Delivery) error {
		if d.Event == nil {
			return nil
		}
		n++
		log.add(who, d.Event.Position)
		if n == blockAt {
			close(g.blocked)
			select {
			case <-g.release:
			case <-ctx.Done():
			}
		}
		return nil
	}
	go func() {
		defer sub.Close()
		for sub.Next(ctx, emit) == nil {
			select {
			case <-sub.Ready():
			case <-ctx.Done():
				return
			}
		}
	}()
	return g
}

// TestASubscriptionWithLittleHistoryIsNotQueuedBehindOnesAlreadyServed:
// places in the catch-up budget went to the queue in order of arrival, and
// a subscription that has read page after page queued again behind each
// newcomer as much as before it: a subscription to a stream of one event,
// opened while a hundred subscriptions read megabytes each, waited for a
// turn of every one of them (6-18 s, an attacker's report, where alone it
// took 7 ms). A place now goes first to the one that has read the least
// from the store in its catch-up: here, with both places held and a
// subscription that has read a page queued before it, the newcomer with
// one event must read before that one reads its next page. On both stores.
func TestASubscriptionWithLittleHistoryIsNotQueuedBehindOnesAlreadyServed(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		var ack acked
		ack.appendPadded(t, store, 8, 1, "X", 8<<10)
		small := uuid.New()
		res, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: small, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "S", Data: []byte(`{}`)}}})
		if err != nil {
			t.Fatal(err)
		}
		smallAt := res.Events[0].Position
		// Two places (1 MiB + 64 KiB + 256 KiB each), pages of two events.
		const place = 1<<20 + 64<<10 + 256<<10
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 64 << 10,
			CatchUpBytes: 2 * place, PageSize: 2})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		var log served
		blocked := func(g *gatedSubscriber, what string) {
			t.Helper()
			untilSettled(t, what, func() bool {
				select {
				case <-g.blocked:
					return true
				default:
					return false
				}
			})
		}

		// old reads its first page and stalls on its second event, holding
		// a place; holder takes the other and stalls on its first.
		old := gated(t, ctx, f.Subscribe(eventstore.SubscribeOptions{}), "old", &log, 2)
		blocked(old, "the first subscription to stall in its first page")
		holder := gated(t, ctx, f.Subscribe(eventstore.SubscribeOptions{}), "holder", &log, 1)
		blocked(holder, "the second subscription to stall in its first page")
		// waiter queues; once old has written its page, waiter takes old's
		// place and stalls in it, and old queues for its second page.
		waiter := gated(t, ctx, f.Subscribe(eventstore.SubscribeOptions{}), "waiter", &log, 1)
		untilSettled(t, "the third subscription to queue", func() bool { return fanout.CatchUpQueued(f) == 1 })
		old.unblock()
		blocked(waiter, "the queued subscription to take the place given back")
		untilSettled(t, "the subscription that read a page to queue for its next", func() bool { return fanout.CatchUpQueued(f) == 1 })

		// The newcomer, to a stream of one event, queues behind old.
		gated(t, ctx, f.Subscribe(eventstore.SubscribeOptions{StreamID: small}), "small", &log, 0)
		untilSettled(t, "the newcomer to queue", func() bool { return fanout.CatchUpQueued(f) == 2 })
		var positions []int64
		for _, e := range ack.events {
			positions = append(positions, e.Position)
		}
		slices.Sort(positions)
		oldNext := fmt.Sprintf("old@%d", positions[2]) // its second page's first
		if i := log.index(oldNext); i >= 0 {
			t.Fatalf("the subscription that read a page read its next with both places held: the test proves nothing (%s)", &log)
		}

		holder.unblock() // one place is given back
		smallEntry := fmt.Sprintf("small@%d", smallAt)
		untilSettled(t, "both queued subscriptions to read", func() bool {
			return log.index(smallEntry) >= 0 && log.index(oldNext) >= 0
		})
		if s, o := log.index(smallEntry), log.index(oldNext); s > o {
			t.Errorf("the subscription with one event read after one that had read a page already and queued before it: served %s; want %s before %s", &log, smallEntry, oldNext)
		}
	})
}

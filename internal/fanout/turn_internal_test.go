package fanout

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASlowReaderGivesItsCatchUpPlaceToThoseWaiting: a subscription held
// its place in the catch-up budget until its consumer had written the whole
// page, and a client reading slowly (never cut: it takes bytes) took
// minutes over a page, while the subscriptions queued behind it got
// nothing. One that has held its place for its turn, with others waiting,
// now ends its page after the event it wrote and queues again, behind them;
// each still gets every event once, in order. On both stores.
//
// What it checks is the order, not the time: the slow reader's consumer
// takes its turn over the first event of a page of 150 while the other
// waits for the only place, and the other's first event must come before
// the slow one has the rest of its page.
func TestASlowReaderGivesItsCatchUpPlaceToThoseWaiting(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		const events = 150 // one page
		appendPage(t, store, events)
		f, ctx := runOnePlace(t, store, 20*time.Millisecond)

		var slowGot atomic.Int64 // events the slow reader has had
		slowFirst, otherQueued := make(chan struct{}), make(chan struct{})
		read := func(name string, first func()) []int64 {
			sub := f.Subscribe(eventstore.SubscribeOptions{})
			defer sub.Close()
			var got []int64
			err := readToCaughtUp(ctx, sub, func(e *eventstore.Event) {
				if len(got) == 0 && first != nil {
					first()
				}
				got = append(got, e.Position)
				if name == "slow" {
					slowGot.Store(int64(len(got)))
				}
			})
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			return got
		}
		var wg sync.WaitGroup
		var slowGotAll, otherGot []int64
		wg.Go(func() {
			slowGotAll = read("slow", func() {
				close(slowFirst)
				<-otherQueued
				// A client slow over this event: its consumer takes the
				// whole turn, which the feed counts by the clock.
				time.Sleep(f.turn)
			})
		})
		<-slowFirst // it holds the only place, for the whole page
		var slowHadAtOthersFirst int64
		wg.Go(func() { otherGot = read("other", func() { slowHadAtOthersFirst = slowGot.Load() }) })
		for !f.catchUp.waiting() {
			time.Sleep(time.Millisecond) // polled: the queue has no signal of its own
		}
		close(otherQueued)
		wg.Wait()
		if slowHadAtOthersFirst >= events {
			t.Errorf("the other subscription got its first event once the slow reader had had %d of its page of %d; "+
				"want the slow one to give its place up after its turn, mid-page", slowHadAtOthersFirst, events)
		}
		checkEveryEventOnceInOrder(t, "slow reader", slowGotAll, events)
		checkEveryEventOnceInOrder(t, "other reader", otherGot, events)
	})
}

// The turn tests (this file's, turnreread's and slowread's) share what
// follows: a page of history, a feed with one catch-up place, readers that
// read until they are caught up, and the check that each got all of it.

// appendPage appends n events to one new stream of store: positions 1 to n
// of an empty log.
func appendPage(t *testing.T, store eventstore.Store, n int) {
	t.Helper()
	evs := make([]eventstore.NewEvent, n)
	for i := range evs {
		evs[i] = eventstore.NewEvent{Type: "X", Data: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
		t.Fatal(err)
	}
}

// runOnePlace runs a feed over store whose catch-up budget has one place,
// held for turn while others wait, until the test ends; it returns the feed
// and a context that ends with it.
func runOnePlace(t *testing.T, store Store, turn time.Duration) (*Feed, context.Context) {
	t.Helper()
	f := New(store, Options{PollInterval: 10 * time.Millisecond, CatchUpBytes: 1}) // one place
	f.turn = turn
	return f, runUntilEnd(t, f)
}

// runUntilEnd runs f until the test ends, and returns a context that ends
// then, before Run has returned.
func runUntilEnd(t *testing.T, f *Feed) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ctx
}

// readToCaughtUp reads sub, handing each event to got, until a delivery
// says it is caught up; it returns Next's error, or nil once caught up or
// when ctx ends first (the caller's count of events tells which).
func readToCaughtUp(ctx context.Context, sub eventstore.Subscription, got func(*eventstore.Event)) error {
	caughtUp := false
	emit := func(d eventstore.Delivery) error {
		caughtUp = caughtUp || d.CaughtUp
		if d.Event != nil {
			got(d.Event)
		}
		return nil
	}
	for !caughtUp {
		if err := sub.Next(ctx, emit); err != nil {
			return err
		}
		if caughtUp {
			return nil
		}
		select {
		case <-sub.Ready():
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// checkEveryEventOnceInOrder fails the test unless got holds positions 1
// to events, each once, in order.
func checkEveryEventOnceInOrder(t *testing.T, name string, got []int64, events int) {
	t.Helper()
	if len(got) != events {
		t.Errorf("%s got %d events; want %d", name, len(got), events)
	}
	for i, p := range got {
		if p != int64(i+1) {
			t.Fatalf("%s: event %d at position %d; want every event once, in order", name, i, p)
		}
	}
}

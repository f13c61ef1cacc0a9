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
func TestASlowReaderGivesItsCatchUpPlaceToThoseWaiting(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		const events = 150
		evs := make([]eventstore.NewEvent, events)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "X", Data: fmt.Appendf(nil, `{"i":%d}`, i)}
		}
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
			t.Fatal(err)
		}
		f := New(store, Options{PollInterval: 10 * time.Millisecond, CatchUpBytes: 1}) // one place
		f.turn = 100 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })

		var slow atomic.Bool
		slow.Store(true)
		read := func(name string, firstAt chan<- time.Time) []int64 {
			sub := f.Subscribe(eventstore.SubscribeOptions{})
			defer sub.Close()
			var got []int64
			caughtUp := false
			emit := func(d eventstore.Delivery) error {
				caughtUp = caughtUp || d.CaughtUp
				if d.Event == nil {
					return nil
				}
				if len(got) == 0 && firstAt != nil {
					firstAt <- time.Now()
				}
				got = append(got, d.Event.Position)
				if name == "slow" && slow.Load() {
					time.Sleep(20 * time.Millisecond) // a client that reads slowly
				}
				return nil
			}
			for !caughtUp {
				if err := sub.Next(ctx, emit); err != nil {
					t.Errorf("%s: %v", name, err)
					return got
				}
				select {
				case <-sub.Ready():
				case <-ctx.Done():
					return got
				}
			}
			return got
		}
		var wg sync.WaitGroup
		var slowGot, otherGot []int64
		slowFirst := make(chan time.Time, 1)
		wg.Go(func() { slowGot = read("slow", slowFirst) })
		<-slowFirst // it holds the only place, for a page of 150 events: 3 s
		otherFirst := make(chan time.Time, 1)
		start := time.Now()
		wg.Go(func() { otherGot = read("other", otherFirst) })
		select {
		case at := <-otherFirst:
			if d := at.Sub(start); d > time.Second {
				t.Errorf("a subscription waited %v for its first event behind a slow reader's place; want about the turn (%v)", d, f.turn)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a subscription got nothing in 10 s behind a slow reader's place")
		}
		slow.Store(false)
		wg.Wait()
		for name, got := range map[string][]int64{"slow": slowGot, "other": otherGot} {
			if len(got) != events {
				t.Errorf("%s reader got %d events; want %d", name, len(got), events)
			}
			for i, p := range got {
				if p != int64(i+1) {
					t.Fatalf("%s reader: event %d at position %d; want every event once, in order", name, i, p)
				}
			}
		}
	})
}

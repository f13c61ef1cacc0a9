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

// eventsReadStore counts the events its ReadAll pages hand out.
type eventsReadStore struct {
	Store
	events atomic.Int64
}

func (s *eventsReadStore) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	page, err := s.Store.ReadAll(ctx, opts)
	if err != nil {
		return page, err
	}
	events := page.Events
	page.Events = func(yield func(eventstore.Event, error) bool) {
		for e, err := range events {
			if err == nil {
				s.events.Add(1)
			}
			if !yield(e, err) {
				return
			}
		}
	}
	return page, nil
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
		evs := make([]eventstore.NewEvent, events)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "X", Data: fmt.Appendf(nil, `{"i":%d}`, i)}
		}
		if _, err := inner.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
			t.Fatal(err)
		}
		store := &eventsReadStore{Store: inner}
		f := New(store, Options{PollInterval: 10 * time.Millisecond, CatchUpBytes: 1}) // one place
		f.turn = time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })

		// Two readers, each of whose consumers takes a whole turn over
		// every event: each turn is cut after one event while the other
		// waits for the only place.
		read := func(name string) []int64 {
			sub := f.Subscribe(eventstore.SubscribeOptions{})
			defer sub.Close()
			var got []int64
			caughtUp := false
			emit := func(d eventstore.Delivery) error {
				caughtUp = caughtUp || d.CaughtUp
				if d.Event != nil {
					got = append(got, d.Event.Position)
					time.Sleep(f.turn)
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
		var gotA, gotB []int64
		wg.Go(func() { gotA = read("a") })
		wg.Go(func() { gotB = read("b") })
		wg.Wait()
		for name, got := range map[string][]int64{"a": gotA, "b": gotB} {
			if len(got) != events {
				t.Errorf("%s reader got %d events; want %d", name, len(got), events)
			}
			for i, p := range got {
				if p != int64(i+1) {
					t.Fatalf("%s reader: event %d at position %d; want every event once, in order", name, i, p)
				}
			}
		}
		// Each event handed to two readers: 120 at the least.
		if n := store.events.Load(); n > 4*2*events {
			t.Errorf("the store handed out %d events for two readers of %d; want at most %d (a few reads of each)", n, events, 4*2*events)
		}
	})
}

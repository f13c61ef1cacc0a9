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

// inFlightStore counts the reads of history in flight, each from its call
// until its rows are read, and the most at once; each read takes a little
// while, as a database's does.
type inFlightStore struct {
	fanout.Store
	now, peak atomic.Int64
}

func (s *inFlightStore) begin() {
	// A load of peak, then a store, lost a higher count stored between
	// them by another read: the peak could miss the moment it measures.
	n := s.now.Add(1)
	for old := s.peak.Load(); n > old && !s.peak.CompareAndSwap(old, n); old = s.peak.Load() {
	}
	time.Sleep(5 * time.Millisecond)
}

func (s *inFlightStore) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	s.begin()
	page, err := s.Store.ReadAll(ctx, opts)
	if err != nil {
		s.now.Add(-1)
		return page, err
	}
	events := page.Events
	page.Events = func(yield func(eventstore.Event, error) bool) {
		defer s.now.Add(-1)
		for e, err := range events {
			if !yield(e, err) {
				return
			}
		}
	}
	return page, nil
}

func (s *inFlightStore) Head(ctx context.Context) (int64, error) {
	s.begin()
	defer s.now.Add(-1)
	return s.Store.Head(ctx)
}

// TestSubscriptionsCatchingUpReadTheStoreAtMostCatchUpReadsAtOnce: nothing
// bounded how many reads of the store subscriptions catching up had in
// flight at once, so that a hundred of them took every connection of the
// read pool, and other clients' reads of a page waited seconds. At most
// CatchUpReads are in flight now, the others waiting their turn, and a
// turn is not held while a consumer writes: a subscription whose consumer
// is stuck holds none, and the others get their history. On both stores.
func TestSubscriptionsCatchingUpReadTheStoreAtMostCatchUpReadsAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		stream := uuid.New()
		for range 6 {
			appendN(t, store, stream, "t", 5)
		}
		const reads = 2
		s := &inFlightStore{Store: store}
		f := runFeed(t, s, fanout.Options{PollInterval: 10 * time.Millisecond, PageSize: 5, CatchUpReads: reads})

		// As many subscriptions as there are turns, whose consumers are
		// stuck on their first event.
		stuck := make(chan struct{})
		t.Cleanup(func() { close(stuck) })
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		for range reads {
			sub := f.Subscribe(eventstore.SubscribeOptions{})
			go func() {
				defer sub.Close() // on the goroutine that calls Next, as its methods ask
				drive(ctx, sub, func(d eventstore.Delivery) error {
					if d.Event != nil {
						<-stuck
					}
					return nil
				}, nil)
			}()
		}

		const subscribers = 12
		var subs []*collector
		for range subscribers {
			c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
			subs = append(subs, c)
		}
		waitFor(t, 20*time.Second, "every subscription's history beside stuck ones", func() bool {
			for _, c := range subs {
				if _, caughtUp, _, _ := c.snapshot(); len(caughtUp) == 0 {
					return false
				}
			}
			return true
		})
		for i, c := range subs {
			if n := c.count(); n != 30 {
				t.Errorf("subscription %d: %d events of history, want 30", i, n)
			}
		}
		if peak := s.peak.Load(); peak > reads {
			t.Errorf("%d subscriptions catching up had %d reads of the store in flight at once; want at most CatchUpReads, %d", subscribers+reads, peak, reads)
		} else if peak < reads {
			t.Errorf("at most %d read of the store in flight at once; the test proves nothing", peak)
		}
	})
}

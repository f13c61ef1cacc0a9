package fanout_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// written is what a test appended: each event with what filters look at.
type written struct {
	// What appendSome writes: to streams (of the type at the same index),
	// batches of 1 to most events padded to one of sizes.
	streams     []uuid.UUID
	streamTypes []string
	sizes       []int
	most        int

	mu     sync.Mutex
	events []eventstore.Event // Data and Metadata left out
}

// appendSome appends n batches through st, each to a stream, of a count,
// of types X and Y and of sizes picked with rnd, and records them. It may
// run in a goroutine of the test's: a failed append is an Errorf.
func (w *written) appendSome(t *testing.T, st eventstore.Store, rnd *rand.Rand, n int) {
	t.Helper()
	for range n {
		s := rnd.IntN(len(w.streams))
		evs := make([]eventstore.NewEvent, 1+rnd.IntN(w.most))
		types := make([]string, len(evs))
		for i := range evs {
			types[i] = []string{"X", "Y"}[rnd.IntN(2)]
			pad := w.sizes[rnd.IntN(len(w.sizes))]
			evs[i] = eventstore.NewEvent{Type: types[i], Data: []byte(`{"pad":"` + strings.Repeat("x", pad) + `"}`)}
		}
		res, err := st.Append(context.Background(), eventstore.AppendRequest{StreamID: w.streams[s], StreamType: w.streamTypes[s], Events: evs})
		if err != nil {
			t.Errorf("append: %v", err)
			return
		}
		w.add(res, types)
	}
}

// count reports how many events w has recorded.
func (w *written) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.events)
}

func (w *written) add(res eventstore.AppendResult, types []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, e := range res.Events {
		w.events = append(w.events, eventstore.Event{ID: e.ID, StreamID: res.StreamID, StreamType: res.StreamType,
			Type: types[i], Version: e.Version, Position: e.Position})
	}
}

// want returns the acknowledged events that a subscription with opts must
// deliver.
func (w *written) want(opts eventstore.SubscribeOptions) map[uuid.UUID]eventstore.RecordedEvent {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := map[uuid.UUID]eventstore.RecordedEvent{}
	for _, e := range w.events {
		switch {
		case e.Position <= opts.After,
			opts.StreamID != uuid.Nil && (e.StreamID != opts.StreamID || e.Version < opts.FromVersion),
			len(opts.StreamTypes) > 0 && !slices.Contains(opts.StreamTypes, e.StreamType),
			len(opts.EventTypes) > 0 && !slices.Contains(opts.EventTypes, e.Type):
			continue
		}
		m[e.ID] = eventstore.RecordedEvent{ID: e.ID, Version: e.Version, Position: e.Position}
	}
	return m
}

// hostile is a consumer that declines events of the live buffer, asks for
// room for large ones read from the store, and stalls for a while once, at
// random; it records what it got and how.
type hostile struct {
	name string
	opts eventstore.SubscribeOptions
	sub  *fanout.Subscription
	rnd  *rand.Rand
	// stallAt is the count of events after which it stalls once, for stall.
	stallAt int
	stall   time.Duration
	pause   time.Duration // after each event: a slow reader

	mu       sync.Mutex
	got      []*eventstore.Event
	declined map[int64]bool // positions declined from the live buffer
	stored   map[int64]bool // positions delivered under a catch-up place
	asked    int            // times it asked for room
	err      error
	restAt   int64 // the cursor it was at rest at (fanout.Rest) after its last call, or -1
}

func (h *hostile) emit(d eventstore.Delivery) error {
	if d.Event == nil {
		return nil
	}
	e := d.Event
	held, room := h.sub.Place()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !held && h.rnd.IntN(3) == 0:
		h.declined[e.Position] = true
		return declineLive{}
	case held && len(e.Data) > 32<<10 && room < 2<<20 && h.rnd.IntN(3) == 0:
		h.asked++
		return roomError(2 << 20)
	}
	h.stored[e.Position] = held
	h.got = append(h.got, e)
	if h.pause > 0 {
		h.mu.Unlock()
		time.Sleep(h.pause)
		h.mu.Lock()
	}
	if len(h.got) == h.stallAt {
		h.mu.Unlock()
		time.Sleep(h.stall) // stalled, then fast again
		h.mu.Lock()
	}
	return nil
}

func (h *hostile) run(ctx context.Context) {
	defer h.sub.Close()
	for ctx.Err() == nil {
		ok, err := h.sub.NextLive(ctx, h.emit)
		if err == nil && !ok {
			err = h.sub.Next(ctx, h.emit)
		}
		if err != nil {
			if ctx.Err() == nil {
				h.mu.Lock()
				h.err = err
				h.mu.Unlock()
			}
			return
		}
		cursor, rest := fanout.Rest(h.sub)
		h.mu.Lock()
		h.restAt = -1
		if rest {
			h.restAt = cursor
		}
		h.mu.Unlock()
		select {
		case <-h.sub.Ready():
		case <-ctx.Done():
		}
	}
}

// received waits for h to receive n events and to rest (fanout.Rest) at
// last, the log's last position, or to end: anything more it would get of
// the log (a repeat) it has got by then. It fails the test with the error
// its subscription ended with, if any, and returns the events it got.
// look, unless nil, is called with h locked.
//
// The wait has no bound of its own (untilSettled): the subscribers of the
// turn-boundary test read some 6,300 events from the store to deliver
// 800 (each turn's rest of a page is read again: catchUpTurn), 48 s on
// two cores at a load average of 20, and past 2 minutes once under more.
// A subscriber that never gets there fails the test before its binary's
// deadline, saying how far it got.
func (h *hostile) received(t *testing.T, n int, last int64, look func()) []*eventstore.Event {
	t.Helper()
	untilSettledSaying(t, func() string {
		h.mu.Lock()
		defer h.mu.Unlock()
		return fmt.Sprintf("%s to receive its %d events and rest at %d: it has %d, resting at %d (-1: not at rest)",
			h.name, n, last, len(h.got), h.restAt)
	}, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.got) >= n && (h.restAt >= last || h.err != nil)
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		t.Errorf("%s: %v", h.name, h.err)
	}
	if look != nil {
		look()
	}
	return slices.Clone(h.got)
}

// TestDeclinesRoomAndStallsOnEventsOfMixedSizesLoseAndRepeatNothing: events
// of every size the frames tell apart (small, 8 KiB on either side of a
// frame's bound, 64 KiB, 900 KiB) are written while subscriptions of every
// kind (the whole log, filtered by stream type or event type, one stream from
// a version, and from a position in the middle) read them through a live
// buffer too small to hold them all, declining live events, asking for room
// for large ones read from the store, and stalling once then reading fast, at
// random. Each gets exactly the events it asked for, once, in order, and
// every event it declined from the live buffer was read from the store. On
// both stores.
func TestDeclinesRoomAndStallsOnEventsOfMixedSizesLoseAndRepeatNothing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 5 * time.Millisecond, Buffer: 16, BufferBytes: 3 << 20})
		ns := f.Notifying(store)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)

		sizes := []int{20, 8<<10 - 200, 8 << 10, 8<<10 + 200, 64 << 10, 900 << 10}
		streams := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
		streamTypes := []string{"A", "B", "A"}
		w := written{streams: streams, streamTypes: streamTypes, sizes: sizes, most: 3}
		appendSome := func(rnd *rand.Rand, n int) { w.appendSome(t, ns, rnd, n) }
		appendSome(rand.New(rand.NewPCG(1, 1)), 10) // history

		kinds := []eventstore.SubscribeOptions{
			{},
			{StreamTypes: []string{"A"}},
			{EventTypes: []string{"Y"}},
			{StreamID: streams[0], FromVersion: 3},
			{After: 7},
		}
		var subs []*hostile
		var wg sync.WaitGroup
		start := func(i int) {
			opts := kinds[i%len(kinds)]
			h := &hostile{name: fmt.Sprintf("subscriber %d %+v", i, opts), opts: opts, restAt: -1, sub: f.Subscribe(opts).(*fanout.Subscription),
				rnd: rand.New(rand.NewPCG(uint64(i), 7)), stallAt: 3 + i, stall: 300 * time.Millisecond,
				declined: map[int64]bool{}, stored: map[int64]bool{}}
			subs = append(subs, h)
			wg.Go(func() { h.run(ctx) })
		}
		for i := range 5 {
			start(i)
		}
		history := w.count()
		var writers sync.WaitGroup
		for i := range 2 {
			writers.Go(func() { appendSome(rand.New(rand.NewPCG(uint64(10+i), 2)), 20) })
		}
		untilSettled(t, "the writers to write their first batch", func() bool { return w.count() > history })
		for i := 5; i < 10; i++ { // subscribing while events are written
			start(i)
		}
		writers.Wait()
		last, err := store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}

		declined, asked := 0, 0
		for _, h := range subs {
			want := w.want(h.opts)
			got := h.received(t, len(want), last, func() {
				for p := range h.declined {
					if !h.stored[p] {
						t.Errorf("%s: the event at %d, declined from the live buffer, came from it again; want it read from the store", h.name, p)
					}
				}
				declined += len(h.declined)
				asked += h.asked
			})
			checkExactlyOnce(t, h.name, got, want)
		}
		if declined == 0 || asked == 0 {
			t.Errorf("%d events declined and %d asked for room: the test proves less than it says", declined, asked)
		}
		cancel()
		wg.Wait()
	})
}

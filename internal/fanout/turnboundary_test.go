package fanout_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTurnsOfTheCatchUpPlaceLoseAndRepeatNothing: with one place in the
// catch-up budget and a turn of 20 ms, slow subscriptions of every kind end
// their pages after the event they wrote and queue again, many times over,
// asking for room for large events and declining live ones at random, while
// events are written. None is starved, and each gets exactly its events,
// once, in order, across every turn's boundary. On both stores.
func TestTurnsOfTheCatchUpPlaceLoseAndRepeatNothing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		streams := []uuid.UUID{uuid.New(), uuid.New()}
		streamTypes := []string{"A", "B"}
		sizes := []int{20, 8 << 10, 40 << 10}
		w := written{streams: streams, streamTypes: streamTypes, sizes: sizes, most: 5}
		w.appendSome(t, store, rand.New(rand.NewPCG(3, 3)), 40) // about 120 events of history
		f := fanout.New(store, fanout.Options{PollInterval: 5 * time.Millisecond, Buffer: 8, CatchUpBytes: 1, PageSize: 50})
		fanout.SetCatchUpTurn(f, 20*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })

		kinds := []eventstore.SubscribeOptions{
			{}, {StreamTypes: []string{"A"}}, {EventTypes: []string{"Y"}}, {StreamID: streams[1], FromVersion: 4}, {After: 30}, {},
		}
		var subs []*hostile
		var wg sync.WaitGroup
		for i, opts := range kinds {
			h := &hostile{name: fmt.Sprintf("subscriber %d %+v", i, opts), opts: opts, restAt: -1, sub: f.Subscribe(opts).(*fanout.Subscription),
				rnd: rand.New(rand.NewPCG(uint64(i), 11)), pause: 2 * time.Millisecond,
				declined: map[int64]bool{}, stored: map[int64]bool{}}
			subs = append(subs, h)
			wg.Go(func() { h.run(ctx) })
		}
		w.appendSome(t, f.Notifying(store), rand.New(rand.NewPCG(4, 4)), 20) // and live ones meanwhile

		last, err := store.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range subs {
			want := w.want(h.opts)
			checkExactlyOnce(t, h.name, h.received(t, len(want), last, nil), want)
		}
		cancel()
		wg.Wait()
	})
}

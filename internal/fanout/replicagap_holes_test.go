package fanout_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// holesTail is a hidingTail whose MissingFromLog answers as a read
// replica's, which asks its primary whether a hole holds an event.
type holesTail struct {
	hidingTail
	missing func(position int64) error
}

func (h holesTail) MissingFromLog(_ context.Context, position int64) error {
	return h.missing(position)
}

type holesStore struct {
	eventstore.Store
	tail holesTail
}

func (h holesStore) Tail() eventstore.LogTail { return h.tail }

// TestAHoleTheStoreSaysHoldsAnEventIsNeverSkipped: behind a read replica, a
// position missing below later ones for longer than the feed's patience was
// skipped as rows removed by hand, though it was an event the replica lost
// and the primary has: every subscriber missed it for good. The feed asks
// the tail (MissingFromLog) first: while it says the position holds an event
// (an error), nothing past the hole is handed out, however long it lasts;
// once it says the position holds none, the hole is skipped as before.
func TestAHoleTheStoreSaysHoldsAnEventIsNeverSkipped(t *testing.T) {
	t.Parallel()
	store := teststore.OpenSQLite(t, t.TempDir())
	var hide, asked atomic.Int64
	var primaryHasIt atomic.Bool
	primaryHasIt.Store(true)
	errLost := errors.New("the replica lost it: the primary has it")
	holes := holesStore{Store: store, tail: holesTail{
		hidingTail: hidingTail{LogTail: store.Tail(), hidden: hide.Load},
		missing: func(p int64) error {
			if p != hide.Load() {
				t.Errorf("the feed asked about position %d; want %d, the hole", p, hide.Load())
			}
			asked.Add(1)
			if primaryHasIt.Load() {
				return errLost
			}
			return nil
		},
	}}
	const patience = time.Minute
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	f := runFeedOnClock(t, holes, fanout.Options{PollInterval: 10 * time.Millisecond, GapPatience: patience},
		func() time.Time { return time.Unix(0, clock.Load()) })
	c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
	appendN(t, store, uuid.New(), "Happened", 1)
	waitFor(t, 5*time.Second, "the first event", func() bool { return c.count() == 1 })

	hide.Store(2)
	for range 3 {
		appendN(t, store, uuid.New(), "Happened", 1)
	}
	clock.Add(int64(2 * patience))
	n := asked.Load()
	waitFor(t, 30*time.Second, "the feed to ask about the hole at 2 three times", func() bool { return asked.Load() >= n+3 })
	if head, got := fanout.Head(f), c.count(); head != 1 || got != 1 {
		t.Fatalf("the store says position 2 holds an event: the feed handed out up to %d and the subscriber got %d events; want 1 and 1, nothing past the hole", head, got)
	}

	primaryHasIt.Store(false) // removed by hand on the primary too: skipped
	waitFor(t, 30*time.Second, "the hole at 2 skipped", func() bool { return fanout.Head(f) == 4 })
	waitFor(t, 5*time.Second, "three events", func() bool { return c.count() == 3 })
}

package fanout_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// byteCountingStore's tail counts in reads the reads of the log the tailer
// makes, and in bytes the data and metadata of the events they hand it.
func byteCountingStore(store eventstore.Store, reads, bytes *atomic.Int64) *fanout.WatchedReads {
	return &fanout.WatchedReads{Store: store, TailReads: func(context.Context) (func(eventstore.Event, error), func()) {
		reads.Add(1)
		return func(e eventstore.Event, _ error) { bytes.Add(int64(len(e.Data) + len(e.Metadata))) }, nil
	}}
}

// TestAnIdleFeedReadsNoEventDataUnderALargeHeadEvent: to see that the log
// did not go back under it, the tailer read the event at its head again at
// every poll, data and all, and read it whole at each move of the head with
// no subscription open. With an event of 1 MiB at the head and one
// subscriber, that was a MiB from the database every poll (10 MiB/s at the
// default interval) while nothing happened. It checks the head's id alone
// (LogTail.IDAt): idle, it reads no event's data, and a new event after the
// large one still reaches the subscriber. On both stores.
func TestAnIdleFeedReadsNoEventDataUnderALargeHeadEvent(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		reads, read := &atomic.Int64{}, &atomic.Int64{}
		f := runFeed(t, byteCountingStore(store, reads, read), fanout.Options{PollInterval: 10 * time.Millisecond})
		big := eventstore.NewEvent{Type: "Big", Data: []byte(`"` + strings.Repeat("x", 1<<20-2) + `"`)}
		res, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Events: []eventstore.NewEvent{big}})
		if err != nil {
			t.Fatal(err)
		}
		head := res.Events[0].Position
		waitFor(t, 30*time.Second, "the feed to follow the head to the large event", func() bool { return fanout.Head(f) == head })
		if n := read.Load(); n != 0 {
			t.Errorf("with no subscription open, the feed read %d bytes of events to follow the head to an event of 1 MiB; want none: it needs its id alone", n)
		}

		c := subscribeCaughtUp(t, f, "the subscriber")
		waitFor(t, 30*time.Second, "the subscriber to get the event of 1 MiB", func() bool { return c.count() == 1 })
		// The first poll with a subscriber open may read the event at the
		// head once, whose size the feed does not know yet (it followed
		// the head by its id alone), and may begin after the subscriber
		// got the event from the store: idle polls are those after a poll
		// begun since, once that one has ended, which a second poll begun
		// since says (the tailer is one goroutine). Counted from the first
		// begun, they took in the 1 MiB that poll read, had it begun late.
		polls := reads.Load()
		waitFor(t, 30*time.Second, "two polls of the tailer", func() bool { return reads.Load() > polls+1 })
		before, polls := read.Load(), reads.Load()
		// Five polls of the tailer with nothing new.
		waitFor(t, 30*time.Second, "five polls of the tailer", func() bool { return reads.Load() >= polls+5 })
		if n := read.Load() - before; n != 0 {
			t.Errorf("idle, with an event of 1 MiB at the head and a subscriber, the tailer read %d bytes of events in %d polls; want none",
				n, reads.Load()-polls)
		}

		appendOne(t, store)
		waitFor(t, 30*time.Second, "the event after the large one to be delivered", func() bool { return c.count() == 2 })
	})
}

// storeBytesCounting counts in bytes the data and metadata of the events
// that the subscriptions' reads of the store (not the tailer's) hand them,
// and in earlier those of the events of stream id before version that any
// read of the log hands out, the tailer's included. The feed's Store has no
// other way to an event's data than a read of the log: those are all it can
// read an event by.
func storeBytesCounting(store eventstore.Store, id uuid.UUID, version int64, bytes, earlier *atomic.Int64) *fanout.WatchedReads {
	watch := func(count *atomic.Int64) fanout.PageWatch {
		return func(context.Context) (func(eventstore.Event, error), func()) {
			return func(e eventstore.Event, _ error) {
				n := int64(len(e.Data) + len(e.Metadata))
				if count != nil {
					count.Add(n)
				}
				if e.StreamID == id && e.Version < version {
					earlier.Add(n)
				}
			}, nil
		}
	}
	return &fanout.WatchedReads{Store: store, Reads: watch(bytes), TailReads: watch(nil)}
}

// TestAStreamSubscriptionFromAVersionDoesNotReadTheEventBeforeIt: a
// subscription of a stream from version n starts after the event before n,
// whose position it needs alone; it read that event whole, a MiB for an
// event of 1 MiB, at each start (an EventSource reconnecting with
// Last-Event-ID does so every time). It reads its position alone
// (Store.EventPosition), and still delivers from n, not before. On both
// stores.
func TestAStreamSubscriptionFromAVersionDoesNotReadTheEventBeforeIt(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		id := uuid.New()
		big := eventstore.NewEvent{Type: "Big", Data: []byte(`"` + strings.Repeat("x", 1<<20-2) + `"`)}
		small := eventstore.NewEvent{Type: "Small", Data: []byte(`{}`)}
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "big", Events: []eventstore.NewEvent{big, small}}); err != nil {
			t.Fatal(err)
		}
		read, earlier := &atomic.Int64{}, &atomic.Int64{}
		f := runFeed(t, storeBytesCounting(store, id, 2, read, earlier), fanout.Options{PollInterval: 10 * time.Millisecond})
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{StreamID: id, FromVersion: 2}, 0)
		waitFor(t, 30*time.Second, "the subscription from version 2 to catch up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
		evs, _, _, _ := c.snapshot()
		if len(evs) != 1 || evs[0].Version != 2 {
			t.Fatalf("the subscription from version 2 delivered %d events (%v); want version 2 alone", len(evs), ids(evs))
		}
		if n := read.Load(); n != int64(len(small.Data)) {
			t.Errorf("the subscription from version 2 read %d bytes of events from the store; want %d, version 2's alone: the event of 1 MiB before it is not delivered", n, len(small.Data))
		}
		if n := earlier.Load(); n != 0 {
			t.Errorf("the feed read %d bytes of the stream's events before version 2 from the store; want none: a subscription from version 2 needs the position of the one before alone", n)
		}
	})
}

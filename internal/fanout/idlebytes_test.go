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

// byteCountingStore's tail counts the reads of the log the tailer makes,
// and the data and metadata of the events they hand it.
type byteCountingStore struct {
	eventstore.Store
	reads, bytes *atomic.Int64
}

func (b byteCountingStore) Tail() eventstore.LogTail {
	return byteCountingTail{b.Store.Tail(), b}
}

type byteCountingTail struct {
	eventstore.LogTail
	b byteCountingStore
}

func (c byteCountingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	c.b.reads.Add(1)
	page, err := c.LogTail.ReadAll(ctx, opts)
	if err != nil {
		return page, err
	}
	events := page.Events
	page.Events = func(yield func(eventstore.Event, error) bool) {
		for e, err := range events {
			c.b.bytes.Add(int64(len(e.Data) + len(e.Metadata)))
			if !yield(e, err) {
				return
			}
		}
	}
	return page, nil
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
		f := runFeed(t, byteCountingStore{store, reads, read}, fanout.Options{PollInterval: 10 * time.Millisecond})
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

package fanout_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnEventOfAChunksBytesAtTheHeadDoesNotStopTheFeed: the feed reads the
// log from the event at its head on, to check that it is still the one it
// handed out. An event of 1 MiB (data and metadata: the default largest)
// filled the tail's page alone, which then said more followed: the feed
// skipped its head's event, handed out nothing, and read the same page
// again, for ever. No later event reached any subscriber, on both stores,
// and a restart with it at the head stopped the feed again (found by the
// API tester). Once the head's event is checked, the feed reads on after
// it.
func TestAnEventOfAChunksBytesAtTheHeadDoesNotStopTheFeed(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		c := subscribeCaughtUp(t, f, "the subscriber")
		big := eventstore.NewEvent{Type: "Big", Data: []byte(`"` + strings.Repeat("x", 1<<20-2) + `"`)}
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Events: []eventstore.NewEvent{big}}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "the event of 1 MiB to be delivered", func() bool { evs, _, _, _ := c.snapshot(); return len(evs) == 1 })
		appendOne(t, store)
		waitFor(t, 30*time.Second, "the event after it to be delivered", func() bool { evs, _, _, _ := c.snapshot(); return len(evs) == 2 })
	})
}

// TestALogThatGoesBackBetweenTheReadsPastAHeadOfAChunksBytesIsNoticed: the
// feed checks that the event at its head is still the one it handed out in
// the read that begins at it. With an event of a chunk's bytes at the head,
// that read holds it alone, and the next read begins after it, unchecked:
// a log that went back (a restore) and grew past the head between the two
// was taken for the one handed out, and its events after the head went to
// every subscriber (here 2 and 3 of a log whose 1 is another event), the
// feed never the wiser. The head's event is checked again after that read.
func TestALogThatGoesBackBetweenTheReadsPastAHeadOfAChunksBytesIsNoticed(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		reached, resume := make(chan struct{}), make(chan struct{})
		tail := &pausingTail{LogTail: store.Tail(), at: 1, reached: reached, resume: resume}
		f := runFeed(t, pausingStore{store, tail}, fanout.Options{PollInterval: time.Hour})
		c := subscribeCaughtUp(t, f, "the subscriber")
		big := eventstore.NewEvent{Type: "Big", Data: []byte(`"` + strings.Repeat("x", 1<<20-2) + `"`)}
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "big", Events: []eventstore.NewEvent{big}}); err != nil {
			t.Fatal(err)
		}
		appendOne(t, store)
		f.Notify()
		select {
		case <-reached: // the feed is about to read the log after its head, 1
		case <-time.After(30 * time.Second):
			t.Fatal("the feed never read the log after the event of 1 MiB at its head")
		}
		goBack(t, k, store, 0)
		appendToNewStreams(t, store, 3) // another event at 1, and 2 and 3 after it
		close(resume)
		waitFor(t, 30*time.Second, "the subscriber to end, or to get 3 events", func() bool {
			_, _, _, closed := c.snapshot()
			return closed || c.count() >= 3
		})
		evs, _, _, closed := c.snapshot()
		if !closed || len(evs) != 1 {
			t.Errorf("the subscriber got %d events (%v), ended %t; want the event of 1 MiB alone, then its end: "+
				"the log went back and another event is at 1", len(evs), ids(evs), closed)
		}
	})
}

// pausingStore's tail is tail.
type pausingStore struct {
	eventstore.Store
	tail *pausingTail
}

func (p pausingStore) Tail() eventstore.LogTail { return p.tail }

// pausingTail's first read of the log after at waits, once reached is
// received from, until resume is closed.
type pausingTail struct {
	eventstore.LogTail
	at              int64
	reached, resume chan struct{}
	once            sync.Once
}

func (p *pausingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if opts.After == p.at {
		p.once.Do(func() {
			p.reached <- struct{}{}
			<-p.resume
		})
	}
	return p.LogTail.ReadAll(ctx, opts)
}

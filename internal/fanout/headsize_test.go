package fanout_test

import (
	"context"
	"strings"
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

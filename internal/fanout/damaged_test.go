package fanout_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestSubscriptionsEndWhenTheDatabaseFileIsDamaged damages an event of the
// embedded store's file, as bit rot does (its data no longer matches its
// checksum: the store's reads of it say eventstore.ErrDamaged; MySQL has no
// such error). No retry mends it: an operator must restore the file. The
// tailer retried each poll, and live subscriptions got keep-alives for ever;
// one reading history through the damaged event retried it for ever. Each
// must end with the damage, as for a missing database, so that its consumer
// is told.
func TestSubscriptionsEndWhenTheDatabaseFileIsDamaged(t *testing.T) {
	t.Parallel()
	k := teststore.SQLite
	t.Run("the next event the tailer reads", func(t *testing.T) {
		t.Parallel()
		store := k.Open(t)
		f, _ := runFeedThatLooksWhenTold(t, store)
		live := subscribeCaughtUp(t, f, "the live subscription")
		checkLog(t, "the live subscription", live, appendToNewStreams(t, f.Notifying(store), 3))
		appendOne(t, store) // position 4: the feed is not told
		k.Exec(t, store, "UPDATE events SET data = ? WHERE position = 4", `{"rot":true}`)
		f.Notify()
		opening, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		expectEndedBy(t, map[string]*collector{"the live subscription": live, "a subscription opened after": opening}, eventstore.ErrDamaged)
	})
	t.Run("an event in history", func(t *testing.T) {
		t.Parallel()
		store := k.Open(t)
		appendToNewStreams(t, store, 3)
		k.Exec(t, store, "UPDATE events SET data = ? WHERE position = 2", `{"rot":true}`)
		f, _ := runFeedThatLooksWhenTold(t, store) // its tailer starts at 3: it never reads 2
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		expectEndedBy(t, map[string]*collector{"a subscription reading history": c}, eventstore.ErrDamaged)
		if err := f.Unmendable(); !errors.Is(err, eventstore.ErrDamaged) {
			t.Errorf("Unmendable is %v once a read of history met the damage; want it (ErrDamaged), for those that open next", err)
		}
	})
}

// expectEndedBy waits for each subscription, by name, to end, and fails
// unless its error is want.
func expectEndedBy(t *testing.T, subs map[string]*collector, want error) {
	t.Helper()
	for name, c := range subs {
		waitFor(t, 30*time.Second, name+" to end", func() bool {
			_, _, _, closed := c.snapshot()
			return closed
		})
		if err := c.ended(); !errors.Is(err, want) {
			t.Errorf("%s ended with %v; want %v", name, err, want)
		}
	}
}

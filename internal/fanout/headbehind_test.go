package fanout_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionBelowAHeadBehindItsEventsGetsNothingPastTheHead: with
// log_head behind its events (edited by hand, tables restored from dumps
// taken apart: appends and /readyz answer the damage's 503), a
// subscription from after=2, below the head, read history up to the head
// (3), and then the tailer read the log past its head, found 4 and 5, and
// handed them out as live events, which the log does not count and the
// next appends' positions would take (found by the twenty-third session's
// re-test; its fix covered a start past the head alone). The tailer's
// reads say that events past the log's head are the damage: the
// subscription gets 3 at most and ends with it (ErrHeadBehind, ErrDamaged),
// as for a damaged file, and those that open next are told before they do
// (Unmendable). Once the head is mended, the feed serves 4 and 5. On both
// stores.
func TestASubscriptionBelowAHeadBehindItsEventsGetsNothingPastTheHead(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		log := appendToNewStreams(t, store, 5)
		k.Exec(t, store, "UPDATE log_head SET position = position - 2 WHERE id = 1")
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{After: 2}, 0)
		expectEndedBy(t, map[string]*collector{"the subscription from after=2": c}, eventstore.ErrHeadBehind)
		if err := c.ended(); !errors.Is(err, eventstore.ErrDamaged) {
			t.Errorf("the subscription ended with %v; want the damage (ErrDamaged), which no retry mends", err)
		}
		// It may end before its read of history delivers 3: the tailer
		// meets the damage as soon as it reads past its head.
		if evs, _, _, _ := c.snapshot(); len(evs) > 1 || len(evs) == 1 && evs[0].ID != log[2] {
			t.Errorf("the subscription from after=2 got %d events (%v); want at most the event at 3 (%v): 4 and 5 lie past the log's head",
				len(evs), ids(evs), log[2])
		}
		if err := f.Unmendable(); !errors.Is(err, eventstore.ErrHeadBehind) {
			t.Errorf("Unmendable is %v once the tailer met events past the head; want the damage (ErrHeadBehind), for those that open next", err)
		}

		k.Exec(t, store, "UPDATE log_head SET position = (SELECT MAX(position) FROM events) WHERE id = 1")
		waitFor(t, 30*time.Second, "the feed to find the head mended", func() bool { return f.Unmendable() == nil })
		mended, _ := subscribe(t, f, eventstore.SubscribeOptions{After: 2}, 0)
		waitFor(t, 30*time.Second, "a subscription from after=2, the head mended, to rest at 5", func() bool { return mended.restedAt(5) })
		if evs, _, _, closed := mended.snapshot(); closed || len(evs) != 3 || evs[0].ID != log[2] || evs[2].ID != log[4] {
			t.Errorf("a subscription from after=2, the head mended, got %v (ended %t: %v); want the events at 3, 4 and 5: %v",
				ids(evs), closed, mended.ended(), log[2:])
		}
	})
}

package fanout_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/testlog"
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
		// The feed started on the sound log (it refuses to start past a
		// head behind its events: TestAFeedWithNoSubscriberFindsAHeadBehindItsEvents).
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		waitFor(t, 30*time.Second, "the feed to start at 5", func() bool { return fanout.Head(f) == 5 })
		k.Exec(t, store, "UPDATE log_head SET position = position - 2 WHERE id = 1")
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

// pollCountingStore's tail counts its reads of the head and of the log:
// each poll makes one or the other first.
type pollCountingStore struct {
	eventstore.Store
	reads *atomic.Int64
}

func (s pollCountingStore) Tail() eventstore.LogTail {
	return pollCountingTail{s.Store.Tail(), s.reads}
}

type pollCountingTail struct {
	eventstore.LogTail
	reads *atomic.Int64
}

func (t pollCountingTail) Head(ctx context.Context) (int64, error) {
	t.reads.Add(1)
	return t.LogTail.Head(ctx)
}

func (t pollCountingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	t.reads.Add(1)
	return t.LogTail.ReadAll(ctx, opts)
}

// TestAHeadSetBehindItsEventsIsLoggedAsDamageNotARestore: log_head set
// behind the events it counts (edited by hand) takes the head back, and
// the feed logged it as a restore ("the database was restored or
// replaced"), at ERROR once and then at WARN as each subscription opened,
// beside the store's own, right, words of damage. Where events lie past
// the head, the feed says the head is behind its events, the damage, with
// its repair left to the store's words, at ERROR as README says.
func TestAHeadSetBehindItsEventsIsLoggedAsDamageNotARestore(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		appendToNewStreams(t, store, 6)
		logged := &testlog.Buffer{}
		reads := &atomic.Int64{}
		f := runFeed(t, pollCountingStore{store, reads}, fanout.Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logged, nil))})
		first, leave := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		waitFor(t, 30*time.Second, "the subscription to catch up", func() bool { return first.restedAt(6) })
		// With none open, the feed follows the head, and finds it back at
		// 3. (With one open, its poll may meet event 6 past the head
		// first: the damage, which ends every subscription, and no news of
		// a head gone back.)
		leave()
		waitFor(t, 30*time.Second, "the subscription to close", func() bool { return f.Subscribers() == 0 })
		k.Exec(t, store, "UPDATE log_head SET position = 3 WHERE id = 1")
		// The feed's read of the head sees events 4 to 6 past it: the
		// damage (TestAFeedWithNoSubscriberFindsAHeadBehindItsEvents), not
		// a head gone back.
		waitFor(t, 30*time.Second, "the feed to find the head behind its events", func() bool {
			return errors.Is(f.Unmendable(), eventstore.ErrHeadBehind)
		})
		// Polls go on, and log no more of it: let ten pass.
		polls := reads.Load()
		waitFor(t, 30*time.Second, "ten more polls", func() bool { return reads.Load() >= polls+10 })
		var lines []string
		for _, line := range strings.Split(logged.String(), "\n") {
			if strings.Contains(line, "went back") || strings.Contains(line, "restored or replaced") || strings.Contains(line, "behind its events") {
				lines = append(lines, line)
			}
		}
		if len(lines) != 1 || strings.Contains(lines[0], "restored or replaced") || strings.Contains(lines[0], "went back") ||
			!strings.Contains(lines[0], "behind its events") {
			t.Errorf("the feed logged the head set behind its events as %q; want one line saying the head is behind its events (damage), not a restore", lines)
		}
	})
}

// TestAFeedWithNoSubscriberFindsAHeadBehindItsEvents: with nobody
// subscribed the feed follows the log's head alone and never read past
// it, so with log_head behind its events the first subscription opened
// (its server answered 200) and was ended at the feed's first poll, where
// the next ones were refused the damage's 503 (Unmendable): found by the
// twenty-fourth session's reviews. The feed's read of the head says the
// damage as its reads of the log do, so those that open are told before
// they open, the first included; once the head is mended, they open. On
// both stores.
func TestAFeedWithNoSubscriberFindsAHeadBehindItsEvents(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		appendToNewStreams(t, store, 5)
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		k.Exec(t, store, "UPDATE log_head SET position = position - 2 WHERE id = 1")
		waitFor(t, 30*time.Second, "the feed, nobody subscribed, to find the head behind its events (Unmendable)", func() bool {
			return errors.Is(f.Unmendable(), eventstore.ErrHeadBehind)
		})
		if err := f.Unmendable(); !errors.Is(err, eventstore.ErrDamaged) {
			t.Errorf("Unmendable is %v; want the damage (ErrDamaged), which no retry mends", err)
		}

		k.Exec(t, store, "UPDATE log_head SET position = (SELECT MAX(position) FROM events) WHERE id = 1")
		waitFor(t, 30*time.Second, "the feed to find the head mended", func() bool { return f.Unmendable() == nil })
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{After: 2}, 0)
		waitFor(t, 30*time.Second, "a subscription from after=2, the head mended, to rest at 5", func() bool { return c.restedAt(5) })
	})
}

package fanout

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAFilteredSubscriptionIsToldNoPositionItWasToldAlready: a filtered
// subscription of the log is told its progress (a position, no event)
// after a live read moved its cursor, so that its client resumes past the
// events its filter skipped. Its last report started at 0, not at its
// starting point, and an event or a caught-up did not count as telling it
// where it was: it was told, after the live read that caught it up from
// the buffer, the position its caught-up then said, and after each event
// delivered live, that event's position again. Each report now says a
// position past the last it was told, as the one after the events it
// skipped does. On both stores.
func TestAFilteredSubscriptionIsToldNoPositionItWasToldAlready(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		inner := k.Open(t)
		f := New(inner, Options{PollInterval: 10 * time.Millisecond})
		ctx := runUntilEnd(t, f)
		<-f.ready
		store := f.Notifying(inner)
		// One open keeps the live buffer (release): the subscription
		// below catches up from it.
		keep := f.Subscribe(eventstore.SubscribeOptions{})
		defer keep.Close()
		stream := uuid.New()
		add := func(typ string) int64 {
			t.Helper()
			res, err := store.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "order", Events: []eventstore.NewEvent{{Type: typ, Data: []byte(`{}`)}}})
			if err != nil {
				t.Fatal(err)
			}
			return res.Events[0].Position
		}
		start := add("Paid")
		add("Issued")
		skipped := add("Issued")
		// The buffer holds both: the subscription catches up from it.
		for f.head.Load() < skipped {
			changed := *f.changed.Load()
			if f.head.Load() >= skipped {
				break
			}
			<-changed
		}

		// From its first event on: it catches up on those it skips.
		sub := f.Subscribe(eventstore.SubscribeOptions{After: start, EventTypes: []string{"Paid"}})
		defer sub.Close()
		told, progress := start, int64(0)
		var again []int64
		emit := func(d eventstore.Delivery) error {
			switch {
			case d.Event != nil:
				told = max(told, d.Event.Position)
			case d.CaughtUp:
				// Said once, wherever it is; but not after a report that
				// told its position.
				if d.Position <= progress {
					again = append(again, progress)
				}
				told = max(told, d.Position)
			default:
				if d.Position <= told {
					again = append(again, d.Position)
				}
				told, progress = max(told, d.Position), d.Position
			}
			return nil
		}
		until := func(what string, cond func() bool) {
			t.Helper()
			for {
				if err := sub.Next(ctx, emit); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if cond() {
					return
				}
				<-sub.Ready()
			}
		}
		caughtUp := func() bool { return told >= skipped }
		until("catching up", caughtUp)
		paid := add("Paid")
		until("a live event", func() bool { return told >= paid })
		issued := add("Issued")
		until("progress past a skipped event", func() bool { return progress >= issued })
		if len(again) > 0 {
			t.Errorf("the subscription was told positions %v again, each at or below one an event, a caught-up or a report had told it; want each report past the last position told, and no caught-up at a position a report told", again)
		}
	})
}

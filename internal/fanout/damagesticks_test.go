package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// damagedAtTwo is a store whose file is damaged at position 2, where only
// subscriptions reading history go: their reads through it fail with
// eventstore.ErrDamaged, as the embedded store's do. The tailer's reads
// (Tail) start at the head and pass.
type damagedAtTwo struct{ eventstore.Store }

func (d damagedAtTwo) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if opts.After < 2 {
		return eventstore.LogPage{}, fmt.Errorf("read the log after %d: %w", opts.After, eventstore.ErrDamaged)
	}
	return d.Store.ReadAll(ctx, opts)
}

// TestDamageMetInHistoryIsRememberedByTheFeed: a subscription reading
// history met damage the tailer never reads (it starts at the head), and
// ended with it, alone: the feed did not remember it, so Unmendable said
// nothing, and a client reconnecting from before the damaged event was
// answered 200 and ended again, every 2 s, for ever, instead of the 503 a
// damaged file gets. The feed now holds to the damage, as the store does
// (until the next start, which checks the file), whatever its tailer's
// polls find meanwhile. On both stores.
func TestDamageMetInHistoryIsRememberedByTheFeed(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		appendToNewStreams(t, store, 3)
		f := runFeed(t, damagedAtTwo{store}, fanout.Options{PollInterval: 10 * time.Millisecond})
		if err := f.Unmendable(); err != nil {
			t.Fatalf("Unmendable is %v before any read met the damage; want nil", err)
		}
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		expectEndedBy(t, map[string]*collector{"a subscription reading history": c}, eventstore.ErrDamaged)
		if err := f.Unmendable(); !errors.Is(err, eventstore.ErrDamaged) {
			t.Fatalf("Unmendable is %v once a subscription's read met the damage; want the damage (ErrDamaged)", err)
		}
		// A poll that passes (the tailer reads nothing damaged) says
		// nothing of the file's history.
		appendOne(t, f.Notifying(store))
		waitFor(t, 30*time.Second, "the feed to follow the head to 4", func() bool { return fanout.Head(f) == 4 })
		appendOne(t, f.Notifying(store)) // and one poll more, after the one that moved the head
		waitFor(t, 30*time.Second, "the feed to follow the head to 5", func() bool { return fanout.Head(f) == 5 })
		if err := f.Unmendable(); !errors.Is(err, eventstore.ErrDamaged) {
			t.Errorf("Unmendable is %v after the tailer's polls passed; want the damage still (ErrDamaged)", err)
		}
	})
}

package fanout_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// headHeldStore holds a subscription's start read once it has read the
// store's head (the tailer reads its own, Tail's): reached closes then,
// and the read returns what it read once release closes.
type headHeldStore struct {
	eventstore.Store
	held             atomic.Bool
	reached, release chan struct{}
}

func (h *headHeldStore) Head(ctx context.Context) (int64, error) {
	head, err := h.Store.Head(ctx)
	if h.held.CompareAndSwap(false, true) {
		close(h.reached)
		<-h.release
	}
	return head, err
}

// TestALogThatGoesBackDuringASubscriptionsStartEndsItWithoutACaughtUp: a
// client reconnecting from position 5 reads the head, 5, as the log goes
// back to 3 under the feed. The subscription took in what its start read
// (the old log's head) and delivered a caught-up at 5, which the log no
// longer holds, before its next call ended it with ErrLogWentBack: its
// consumer was told it was up to date with events gone. It must end with
// ErrLogWentBack and deliver nothing. On both stores.
func TestALogThatGoesBackDuringASubscriptionsStartEndsItWithoutACaughtUp(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		appendToNewStreams(t, store, 5)
		held := &headHeldStore{Store: store, reached: make(chan struct{}), release: make(chan struct{})}
		f := runFeed(t, held, fanout.Options{PollInterval: time.Hour})
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{After: 5}, 0)
		<-held.reached // its start read the old log's head, 5
		goBack(t, k, store, 3)
		f.Notify()
		waitFor(t, 30*time.Second, "the feed to follow the log back to 3", func() bool { return fanout.Head(f) == 3 })
		close(held.release)
		expectEndedBy(t, map[string]*collector{"the subscription whose start straddled the restore": c}, fanout.ErrLogWentBack)
		events, caughtUp, _, _ := c.snapshot()
		if len(events) != 0 || len(caughtUp) != 0 {
			t.Errorf("the subscription delivered %d events and %v before it ended; want nothing of the old log", len(events), caughtUp)
		}
	})
}

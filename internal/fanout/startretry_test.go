package fanout_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// firstHeadFails is a store whose tailer's first read of the log's head
// fails, as a database blip at the feed's start does; the reads after it
// pass.
type firstHeadFails struct {
	fanout.Store
	failed atomic.Bool
}

func (s *firstHeadFails) Tail() eventstore.LogTail { return firstHeadFailsTail{s.Store.Tail(), s} }

type firstHeadFailsTail struct {
	eventstore.LogTail
	s *firstHeadFails
}

func (t firstHeadFailsTail) Head(ctx context.Context) (int64, error) {
	if t.s.failed.CompareAndSwap(false, true) {
		return 0, fmt.Errorf("read the head: %w", eventstore.ErrUnavailable)
	}
	return t.LogTail.Head(ctx)
}

// TestAFeedWhoseStartFailsRetriesWithinSecondsWhateverItsPollInterval: the
// feed's start retried a failed read of the log's head after its poll
// interval, doubling to at most 5 s after that: the first wait was the
// interval itself, uncapped. With TRIBUTARY_POLL_INTERVAL=1h (taken, with
// a warning), one failed read at start left the feed unstarted for an hour:
// no subscription got a live event, and /readyz said nothing of it for
// three hours. The first retry now waits no more than the later ones.
func TestAFeedWhoseStartFailsRetriesWithinSecondsWhateverItsPollInterval(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &firstHeadFails{Store: k.Open(t)}
		feed := runFeed(t, store, fanout.Options{PollInterval: time.Hour})
		made := feed.LastPoll() // the feed's making: its first read fails
		// Generous: the retry waits 5 s at most; an hour's wait fails it.
		waitFor(t, 2*time.Minute, "the feed to start after its first read of the head failed",
			func() bool { return store.failed.Load() && feed.LastPoll().After(made) })
	})
}

package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// failingFile is a store whose every read, the tailer's too, fails with
// err once it is set, as the embedded store's do once its file was found
// overwritten, or its WAL removed, while it ran: only an operator's
// restart mends either.
type failingFile struct {
	eventstore.Store
	err *atomic.Pointer[error]
}

func (s failingFile) failed() error {
	if err := s.err.Load(); err != nil {
		return fmt.Errorf("read: %w", *err)
	}
	return nil
}

func (s failingFile) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := s.failed(); err != nil {
		return eventstore.LogPage{}, err
	}
	return s.Store.ReadAll(ctx, opts)
}

func (s failingFile) Head(ctx context.Context) (int64, error) {
	if err := s.failed(); err != nil {
		return 0, err
	}
	return s.Store.Head(ctx)
}

func (s failingFile) Tail() eventstore.LogTail { return fileTail{s.Store.Tail(), s} }

type fileTail struct {
	eventstore.LogTail
	s failingFile
}

func (t fileTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := t.s.failed(); err != nil {
		return eventstore.LogPage{}, err
	}
	return t.LogTail.ReadAll(ctx, opts)
}

func (t fileTail) Head(ctx context.Context) (int64, error) {
	if err := t.s.failed(); err != nil {
		return 0, err
	}
	return t.LogTail.Head(ctx)
}

// TestSubscriptionsEndWhenTheFileNeedsARestart: the embedded store's file
// overwritten while the server ran (ErrOverwritten), or its WAL removed
// (ErrRestartNeeded), fails every read until an operator restarts it. The
// feed retried each poll, and open subscriptions got keep-alives for ever,
// told nothing. They end, as for a damaged file, and Unmendable says why,
// for those that open next (a 503).
func TestSubscriptionsEndWhenTheFileNeedsARestart(t *testing.T) {
	t.Parallel()
	for _, cause := range []error{eventstore.ErrOverwritten, eventstore.ErrRestartNeeded} {
		t.Run(cause.Error(), func(t *testing.T) {
			t.Parallel()
			store := teststore.SQLite.Open(t)
			var failing atomic.Pointer[error]
			f, _ := runFeedThatLooksWhenTold(t, failingFile{store, &failing})
			live := subscribeCaughtUp(t, f, "the live subscription")
			checkLog(t, "the live subscription", live, appendToNewStreams(t, f.Notifying(store), 2))
			failing.Store(&cause)
			f.Notify()
			expectEndedBy(t, map[string]*collector{"the live subscription": live}, cause)
			if err := f.Unmendable(); !errors.Is(err, cause) {
				t.Errorf("Unmendable is %v; want %v, for the subscriptions that open next", err, cause)
			}
		})
	}
}

var _ fanout.Store = failingFile{}

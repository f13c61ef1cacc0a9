package fanout

import (
	"context"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// WatchedReads is a store whose reads of the log are watched, by the tests
// that slow them, count them, or measure what their pages hold: Reads
// watches the subscriptions' reads of the store (ReadAll), TailReads the
// tailer's (Tail().ReadAll). A read that fails is handed on as it came.
type WatchedReads struct {
	eventstore.Store
	Reads, TailReads PageWatch
}

// PageWatch, unless nil, is called with the read's context as a read of the
// log begins, before the store is asked, and returns what watches that
// read's page: each, unless nil, is called with each event the page hands
// out (and its error), before it is handed on; done, unless nil, once the
// page's iteration is over, or at once if the read failed. The feed reads a
// page whole before it delivers any of it: done says the store has handed
// the page over, not that its subscription is done with it.
type PageWatch func(ctx context.Context) (each func(eventstore.Event, error), done func())

func (w *WatchedReads) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	return watchRead(ctx, opts, w.Store.ReadAll, w.Reads)
}

func (w *WatchedReads) Tail() eventstore.LogTail {
	if w.TailReads == nil {
		return w.Store.Tail()
	}
	return watchedTail{w.Store.Tail(), w.TailReads}
}

type watchedTail struct {
	eventstore.LogTail
	watch PageWatch
}

func (t watchedTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	return watchRead(ctx, opts, t.LogTail.ReadAll, t.watch)
}

// watchRead reads with read, its page watched by watch.
func watchRead(ctx context.Context, opts eventstore.ReadAllOptions,
	read func(context.Context, eventstore.ReadAllOptions) (eventstore.LogPage, error), watch PageWatch) (eventstore.LogPage, error) {
	if watch == nil {
		return read(ctx, opts)
	}
	each, done := watch(ctx)
	if each == nil {
		each = func(eventstore.Event, error) {}
	}
	if done == nil {
		done = func() {}
	}
	page, err := read(ctx, opts)
	if err != nil {
		done()
		return page, err
	}
	events := page.Events
	page.Events = func(yield func(eventstore.Event, error) bool) {
		defer done()
		for e, err := range events {
			each(e, err)
			if !yield(e, err) {
				return
			}
		}
	}
	return page, nil
}

package fanout_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// panickingReads is a store whose subscriptions' reads panic once, in Head
// (a subscription's start) or in ReadAll (a page of history), as a bug in a
// store or its driver would; its tail (the tailer's reads) is the store's own.
type panickingReads struct {
	fanout.Store
	inHead, inPage atomic.Bool
}

func (p *panickingReads) Head(ctx context.Context) (int64, error) {
	if p.inHead.CompareAndSwap(true, false) {
		panic("store bug in Head")
	}
	return p.Store.Head(ctx)
}

func (p *panickingReads) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if p.inPage.CompareAndSwap(true, false) {
		panic("store bug in ReadAll")
	}
	return p.Store.ReadAll(ctx, opts)
}

// TestAPanicInAReadOfTheStoreReachesTheConsumerNotTheProcess: a
// subscription's reads of the store run on goroutines of their own, where a
// panic (a bug in a store or its driver) ended the whole process: nothing
// there recovered it. It is raised again on the consumer's goroutine, by
// Next, as when the read ran there: the HTTP layer recovers it, cuts that
// response alone and gives its place back. Its turn of the catch-up reads
// and its place in the budget are given back: the next subscription catches
// up. On both stores, each read.
func TestAPanicInAReadOfTheStoreReachesTheConsumerNotTheProcess(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, read := range []string{"Head", "ReadAll"} {
			t.Run(read, func(t *testing.T) {
				store := k.Open(t)
				appendN(t, store, uuid.New(), "X", 3)
				p := &panickingReads{Store: store}
				f := runFeed(t, p, fanout.Options{PollInterval: 10 * time.Millisecond, CatchUpReads: 1, CatchUpBytes: 1})
				p.inHead.Store(read == "Head")
				p.inPage.Store(read == "ReadAll")
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				nop := func(eventstore.Delivery) error { return nil }

				sub := f.Subscribe(eventstore.SubscribeOptions{})
				var rec any
				func() {
					defer func() { rec = recover() }()
					drive(ctx, sub, nop, nil)
				}()
				sub.Close()
				if rec == nil || !strings.Contains(fmt.Sprint(rec), "store bug in "+read) {
					t.Fatalf("Next of a subscription whose read of the store panicked: recovered %v, want the store's panic raised again", rec)
				}
				if held := f.CatchUpBytes(); held != 0 {
					t.Errorf("after the panicking subscription closed, the catch-up budget holds %d bytes, want 0", held)
				}
				// One turn, one place: the next catches up only if both came back.
				caughtUp := false
				next := f.Subscribe(eventstore.SubscribeOptions{})
				defer next.Close()
				drive(ctx, next, func(d eventstore.Delivery) error { caughtUp = caughtUp || d.CaughtUp; return nil }, func() bool { return caughtUp })
				if !caughtUp {
					t.Fatalf("the subscription after one whose read panicked did not catch up: %v", ctx.Err())
				}
			})
		}
	})
}

package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/testlog"
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

// slowToLetGo is a store whose subscriptions' reads of a page wait until
// their context ends, and then take a while more to return, as a query
// does that the database is slow to give up (a driver that must reach the
// server to cancel it). It says when a read begins and whether one is in
// the store.
type slowToLetGo struct {
	fanout.Store
	began chan struct{}
	in    atomic.Int64
}

func (s *slowToLetGo) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	s.in.Add(1)
	defer s.in.Add(-1)
	select {
	case s.began <- struct{}{}:
	default:
	}
	<-ctx.Done()
	time.Sleep(300 * time.Millisecond)
	return eventstore.LogPage{}, ctx.Err()
}

// TestTheFeedStopsOnlyOnceNoSubscriptionReadsTheStore: a subscription's
// reads of the store run on goroutines of their own, which nothing waited
// for. One whose subscription had closed (its handler returned) was still
// in the store when the feed had stopped, and the process closes the store
// then, under it: a store may close only once nothing uses it. And the feed
// stopping did not end a read in flight, so that its subscription, waiting
// on Ready, was not told the feed had stopped for as long as the read
// lasted. Run now ends the reads in flight as it stops, and returns only
// once they have returned. On both stores.
func TestTheFeedStopsOnlyOnceNoSubscriptionReadsTheStore(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, closeFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("closed first %v", closeFirst), func(t *testing.T) {
				store := k.Open(t)
				appendN(t, store, uuid.New(), "X", 3)
				s := &slowToLetGo{Store: store, began: make(chan struct{}, 1)}
				f := fanout.New(s, fanout.Options{PollInterval: 10 * time.Millisecond})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { f.Run(ctx); close(done) }()
				t.Cleanup(func() { cancel(); <-done })
				nop := func(eventstore.Delivery) error { return nil }

				sub := f.Subscribe(eventstore.SubscribeOptions{})
				defer sub.Close()
				// Until its page's read is in the store: it waits on Ready then.
				untilAReadBegins(t, sub, s.began)
				if closeFirst {
					sub.Close()
				}
				cancel()
				select {
				case <-done:
				case <-time.After(30 * time.Second):
					t.Fatal("the feed did not stop in 30 s")
				}
				if n := s.in.Load(); n != 0 {
					t.Fatalf("the feed stopped with %d read(s) of a subscription still in the store; want none: the store closes then", n)
				}
				if closeFirst {
					return
				}
				select {
				case <-sub.Ready():
				case <-time.After(10 * time.Second):
					t.Fatal("a subscription whose read was in flight was not woken in 10 s by the feed stopping")
				}
				if err := sub.Next(context.Background(), nop); !errors.Is(err, fanout.ErrStopped) {
					t.Fatalf("Next after the feed stopped = %v, want ErrStopped", err)
				}
			})
		}
	})
}

// TestAClosedSubscriptionsPlaceIsHeldUntilItsReadEnds: a subscription
// closed while its page of history is read gave its place in the catch-up
// budget back at once, while the read went on in the store, holding what
// it had read until it saw its context end: the budget let another
// subscription read a page beside it, and so on, each closed one's read
// uncounted. The place is given back as the read ends. On both stores.
func TestAClosedSubscriptionsPlaceIsHeldUntilItsReadEnds(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		appendN(t, store, uuid.New(), "X", 3)
		s := &slowToLetGo{Store: store, began: make(chan struct{}, 1)}
		f := runFeed(t, s, fanout.Options{PollInterval: 10 * time.Millisecond})

		sub := f.Subscribe(eventstore.SubscribeOptions{})
		untilAReadBegins(t, sub, s.began)
		sub.Close()
		held := f.CatchUpBytes()
		if in := s.in.Load(); in != 1 {
			t.Fatalf("%d reads in the store just after the close; the test needs the read still there", in)
		}
		if held == 0 {
			t.Fatal("a subscription closed while its page was read gave its place back before the read ended; want it held until then")
		}
		waitFor(t, 30*time.Second, "the place to come back once the read ended", func() bool { return s.in.Load() == 0 && f.CatchUpBytes() == 0 })
	})
}

// panicsWhenLetGo is a store whose subscriptions' reads of a page wait until
// their context ends, and then panic.
type panicsWhenLetGo struct {
	fanout.Store
	began chan struct{}
}

func (p *panicsWhenLetGo) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	select {
	case p.began <- struct{}{}:
	default:
	}
	<-ctx.Done()
	panic("store bug after a cancel")
}

// TestAPanicOfAReadWhoseSubscriptionClosedIsLogged: a read of the store that
// panics after its subscription closed has no Next to raise it again: the
// feed logs it, with its stack, and the process goes on. On SQLite: the
// store answers nothing here.
func TestAPanicOfAReadWhoseSubscriptionClosedIsLogged(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	appendN(t, store, uuid.New(), "X", 3)
	p := &panicsWhenLetGo{Store: store, began: make(chan struct{}, 1)}
	logged := &testlog.Buffer{}
	f := runFeed(t, p, fanout.Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logged, nil))})
	sub := f.Subscribe(eventstore.SubscribeOptions{})
	untilAReadBegins(t, sub, p.began)
	sub.Close()
	waitFor(t, 30*time.Second, "the panic to be logged", func() bool {
		return strings.Contains(logged.String(), "store bug after a cancel") && strings.Contains(logged.String(), "panicsWhenLetGo")
	})
	if held := f.CatchUpBytes(); held != 0 {
		t.Errorf("after the read panicked, the catch-up budget holds %d bytes, want 0", held)
	}
}

// untilAReadBegins calls sub's Next until a read of a page is in the store
// (began), waiting on Ready between calls.
func untilAReadBegins(t *testing.T, sub eventstore.Subscription, began <-chan struct{}) {
	t.Helper()
	nop := func(eventstore.Delivery) error { return nil }
	for {
		if err := sub.Next(context.Background(), nop); err != nil {
			t.Fatal(err)
		}
		select {
		case <-began:
			return
		case <-sub.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("no read of a page began in 30 s")
		}
	}
}

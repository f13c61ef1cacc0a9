package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// heldQuery is a query of the head that answers 1, 2, 3… in turn, each
// once it is let go.
type heldQuery struct {
	began   chan struct{} // one value a query begun
	release chan struct{} // one value lets one query answer
	n       atomic.Int64
	cut     atomic.Int64 // queries ended by their context
}

func newHeldQuery() *heldQuery {
	return &heldQuery{began: make(chan struct{}, 100), release: make(chan struct{}, 100)}
}

func (q *heldQuery) query(ctx context.Context) (int64, error) {
	n := q.n.Add(1)
	q.began <- struct{}{}
	select {
	case <-q.release:
		return n, nil
	case <-ctx.Done():
		q.cut.Add(1)
		return 0, ctx.Err()
	}
}

// TestReadsOfTheHeadWaitingAtOnceAreOneQuery: a hundred subscriptions
// opening together each read the head, and queued a hundred queries on the
// read pool ahead of clients' reads of pages. The calls that come while a
// read of the head is under way wait for one more, begun when it ends,
// which answers them all; none is given a head read before it was called.
func TestReadsOfTheHeadWaitingAtOnceAreOneQuery(t *testing.T) {
	var h sharedHead
	q := newHeldQuery()
	first := make(chan int64, 1)
	go func() {
		head, _ := h.read(context.Background(), q.query)
		first <- head
	}()
	<-q.began // the first query is under way
	const calls = 50
	var wg sync.WaitGroup
	heads := make(chan int64, calls)
	var joined sync.WaitGroup
	joined.Add(calls)
	for range calls {
		wg.Go(func() {
			joined.Done()
			head, err := h.read(context.Background(), q.query)
			if err != nil {
				t.Error(err)
			}
			heads <- head
		})
	}
	joined.Wait()
	// Every call has at least begun to join; let them all reach the lock.
	for h.waitingNext() < calls {
		time.Sleep(time.Millisecond)
	}
	q.release <- struct{}{}
	if got := <-first; got != 1 {
		t.Fatalf("the first call got head %d; want 1, its own query's", got)
	}
	<-q.began // the second query: for the fifty
	q.release <- struct{}{}
	wg.Wait()
	close(heads)
	for head := range heads {
		if head != 2 {
			t.Fatalf("a call that came while the first query ran got head %d; want 2, from a query begun after it was called", head)
		}
	}
	if n := q.n.Load(); n != 2 {
		t.Fatalf("%d queries of the head for %d calls, %d of them at once; want 2", n, calls+1, calls)
	}
}

// TestAReadOfTheHeadWhoseCallersLeftIsCut: a database that does not answer
// holds the query of the head; once every call waiting for it has left, it
// is cut, and the next call's query begins at once rather than after it.
func TestAReadOfTheHeadWhoseCallersLeftIsCut(t *testing.T) {
	var h sharedHead
	q := newHeldQuery()
	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() {
		_, err := h.read(ctx, q.query)
		left <- err
	}()
	<-q.began
	cancel()
	if err := <-left; !errors.Is(err, context.Canceled) {
		t.Fatalf("a call that left: %v; want its context's error", err)
	}
	got := make(chan int64, 1)
	go func() {
		head, _ := h.read(context.Background(), q.query)
		got <- head
	}()
	<-q.began // the next call's query began: the first was cut
	if n := q.cut.Load(); n != 1 {
		t.Fatalf("%d queries cut; want the one every caller had left", n)
	}
	q.release <- struct{}{}
	if head := <-got; head != 2 {
		t.Fatalf("the next call got head %d; want 2", head)
	}
}

// waitingNext is how many calls wait for the read not yet begun.
func (h *sharedHead) waitingNext() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.next == nil {
		return 0
	}
	return h.next.waiting
}

// TestAPanickingReadOfTheHeadPanicsOnlyInItsCallers: a read of the head ran
// on its caller's goroutine, where a panic (a driver's) was that request's
// alone, recovered as a 500 by the HTTP layer or logged by the feed. The
// shared query runs on a goroutine of its own: its panic must reach its
// callers, not end the process, and the next read must still run (hostile
// review, twenty-third session).
func TestAPanickingReadOfTheHeadPanicsOnlyInItsCallers(t *testing.T) {
	var h sharedHead
	panics := make(chan any, 1)
	func() {
		defer func() { panics <- recover() }()
		h.read(context.Background(), func(context.Context) (int64, error) { panic("driver panic (test)") }) //nolint:errcheck
	}()
	if p := <-panics; p == nil || !strings.Contains(fmt.Sprint(p), "driver panic (test)") {
		t.Fatalf("the caller recovered %v, want the query's panic", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	head, err := h.read(ctx, func(context.Context) (int64, error) { return 7, nil })
	if err != nil || head != 7 {
		t.Fatalf("the read after the panic: %d, %v; want 7, nil", head, err)
	}
}

// TestTheNextReadOfTheHeadRunsTheQueryItsCallsGave: a read of the head
// that began once the one under way ended ran the query of the call that
// had begun that one, not of the calls that came meanwhile: after a
// panicking query, a call made at once (its caller recovering at once,
// before the shared read was marked ended) was given the panic again, as
// the interim CI of the thirtieth session saw
// (TestAPanickingReadOfTheHeadPanicsOnlyInItsCallers). Here the first
// query is held until a second call, with a query of its own, waits.
func TestTheNextReadOfTheHeadRunsTheQueryItsCallsGave(t *testing.T) {
	var h sharedHead
	release := make(chan struct{})
	first := make(chan int64, 1)
	go func() {
		head, _ := h.read(context.Background(), func(context.Context) (int64, error) { <-release; return 1, nil })
		first <- head
	}()
	waitFor(t, "the first read to begin", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.running
	})
	second := make(chan int64, 1)
	go func() {
		head, _ := h.read(context.Background(), func(context.Context) (int64, error) { return 2, nil })
		second <- head
	}()
	waitFor(t, "the second call to wait for the next read", func() bool { return h.waitingNext() == 1 })
	close(release)
	if got := <-first; got != 1 {
		t.Errorf("the first call was given %d; want 1, its query's", got)
	}
	if got := <-second; got != 2 {
		t.Errorf("the second call was given %d; want 2, its own query's, not the first call's run again", got)
	}
}

package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// pageOf returns a read ahead's read that gives n events of size bytes of
// data each, once release is closed (nil: at once).
func pageOf(n, size int, release chan struct{}) func(context.Context) ([]eventstore.Event, int64, bool) {
	return func(ctx context.Context) ([]eventstore.Event, int64, bool) {
		if release != nil {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, 0, false
			}
		}
		events := make([]eventstore.Event, n)
		for i := range events {
			events[i].Data = make([]byte, size)
		}
		return events, int64(n), true
	}
}

func TestAPageReadAheadIsHandedOutOnceAndOnlyWithinItsTime(t *testing.T) {
	a := newReadAhead(1)
	defer a.close()
	ctx := context.Background()
	key := aheadKey{lo: 1}
	a.start(key, pageOf(3, 10, nil))
	if p := a.take(ctx, key); p == nil || len(p.events) != 3 {
		t.Fatalf("took %+v; expected the page of 3 events read ahead", p)
	}
	if p := a.take(ctx, key); p != nil {
		t.Fatalf("took the page a second time: %+v; expected nothing, a page is handed out once", p)
	}
	a.start(key, pageOf(3, 10, nil))
	a.mu.Lock()
	p := a.pages[key]
	a.mu.Unlock()
	<-p.ready
	p.expires = time.Now().Add(-time.Millisecond)
	if p := a.take(ctx, key); p != nil {
		t.Fatalf("took a page past its time: %+v; expected nothing", p)
	}
	if a.held != 0 {
		t.Errorf("%d bytes counted as held with no page kept; expected 0", a.held)
	}
}

func TestAReadAheadKeepsNoMoreThanItsBytes(t *testing.T) {
	a := newReadAhead(1)
	defer a.close()
	ctx := context.Background()
	// Two pages that each fit, together over the bound: the second is
	// read, and not kept.
	first, second := aheadKey{lo: 1}, aheadKey{lo: 2}
	a.start(first, pageOf(2, aheadBytes/3, nil))
	a.mu.Lock()
	p := a.pages[first]
	a.mu.Unlock()
	<-p.ready
	a.start(second, pageOf(1, aheadBytes-aheadBytes/3, nil))
	if p := a.take(ctx, second); p != nil {
		t.Errorf("kept a page past the bound on all pages (%d bytes held, %d more): expected it dropped", a.held, p.size)
	}
	if p := a.take(ctx, first); p == nil {
		t.Errorf("the page within the bound was not kept")
	}
}

func TestAReadAheadWaitsForNoSlotAndStopsAtClose(t *testing.T) {
	a := newReadAhead(1)
	release := make(chan struct{})
	a.start(aheadKey{lo: 1}, pageOf(1, 1, release))
	// The one slot is taken: a second read is not started, nor waited for.
	a.start(aheadKey{lo: 2}, pageOf(1, 1, nil))
	if p := a.take(context.Background(), aheadKey{lo: 2}); p != nil {
		t.Errorf("a read ahead started beyond its slots: %+v", p)
	}
	done := make(chan struct{})
	go func() { a.close(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("close did not stop a read ahead in flight within 30 s")
	}
	a.start(aheadKey{lo: 3}, pageOf(1, 1, nil))
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pages) != 0 {
		t.Errorf("%d pages kept or on their way after close (the stopped read's, or one started after it); expected none", len(a.pages))
	}
}

func TestATakeWaitsForAPageOnItsWayUntilItsContextEnds(t *testing.T) {
	a := newReadAhead(1)
	defer a.close()
	release := make(chan struct{})
	key := aheadKey{lo: 1}
	a.start(key, pageOf(1, 1, release))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p := a.take(ctx, key); p != nil {
		t.Errorf("took a page not yet read with its context ended: %+v", p)
	}
	close(release)
}

func TestPagesReadAheadAreDroppedAtTheirTimeWithoutAnotherRead(t *testing.T) {
	a := newReadAhead(4)
	defer a.close()
	for i := range 4 {
		a.start(aheadKey{lo: int64(i + 1)}, pageOf(100, 1<<20/100, nil))
	}
	a.mu.Lock()
	var pages []*aheadPage
	for _, p := range a.pages {
		pages = append(pages, p)
	}
	a.mu.Unlock()
	for _, p := range pages {
		<-p.ready
	}
	// Past their time, with no read since: let go by themselves (bounded
	// wait: the timers may run late on a busy machine).
	for deadline := time.Now().Add(aheadFor + 30*time.Second); ; time.Sleep(50 * time.Millisecond) {
		a.mu.Lock()
		n, held := len(a.pages), a.held
		a.mu.Unlock()
		if n == 0 && held == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pages, %d bytes still held %s after their time, with no read since; expected none", n, held, 30*time.Second)
		}
	}
}

func TestAPageReadAheadCountsItsEventsWithTheirData(t *testing.T) {
	a := newReadAhead(1)
	defer a.close()
	key := aheadKey{lo: 1}
	a.start(key, pageOf(1000, 16, nil))
	a.mu.Lock()
	p := a.pages[key]
	a.mu.Unlock()
	<-p.ready
	a.mu.Lock()
	defer a.mu.Unlock()
	if want := 1000 * (16 + eventSize); a.held != want {
		t.Errorf("a page of 1,000 events of 16 bytes counted %d bytes held; expected %d, their data and the events themselves", a.held, want)
	}
}

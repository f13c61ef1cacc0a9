package fanout_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// holdingStore measures what subscriptions hold of the pages they read from
// the store. The feed reads a page whole before its consumer writes any of
// it, and keeps it until the consumer has written it: a subscription's page
// is held from its first event until its consumer says it has written the
// page's last event (wrote), or the subscription reads its next page. A
// read is counted to a subscription when its context says whose it is
// (holding); any other read, only while the store hands its page out.
type holdingStore struct {
	*fanout.WatchedReads
	mu         sync.Mutex
	pages      map[int]heldPage // by holder
	held, peak int64
	counted    int // pages counted to a holder
}

// heldPage is what a holder's page holds, and its last event's position.
type heldPage struct{ bytes, last int64 }

type holderKey struct{}

// holding is ctx saying that the reads of the store made under it are
// holder who's.
func holding(ctx context.Context, who int) context.Context {
	return context.WithValue(ctx, holderKey{}, who)
}

func newHoldingStore(store eventstore.Store) *holdingStore {
	h := &holdingStore{pages: map[int]heldPage{}}
	h.WatchedReads = &fanout.WatchedReads{Store: store, Reads: func(ctx context.Context) (func(eventstore.Event, error), func()) {
		who, ok := ctx.Value(holderKey{}).(int)
		if !ok {
			var mine int64
			return func(e eventstore.Event, _ error) {
					n := int64(len(e.Data) + len(e.Metadata))
					mine += n
					h.add(n)
				}, func() {
					h.add(-mine)
				}
		}
		h.release(who) // its consumer is done with the page before
		return func(e eventstore.Event, err error) {
			if err != nil {
				return
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			p, ok := h.pages[who]
			if !ok {
				h.counted++
			}
			p.bytes += int64(len(e.Data) + len(e.Metadata))
			p.last = e.Position
			h.pages[who] = p
			h.addLocked(int64(len(e.Data) + len(e.Metadata)))
		}, nil
	}}
	return h
}

func (h *holdingStore) add(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addLocked(n)
}

func (h *holdingStore) addLocked(n int64) {
	h.held += n
	h.peak = max(h.peak, h.held)
}

// release gives who's page back.
func (h *holdingStore) release(who int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held -= h.pages[who].bytes
	delete(h.pages, who)
}

// wrote says that holder who's consumer has written e: once that is its
// page's last event, the page is no longer held.
func (h *holdingStore) wrote(who int, e *eventstore.Event) {
	h.mu.Lock()
	p, ok := h.pages[who]
	h.mu.Unlock()
	if ok && e.Position >= p.last {
		h.release(who)
	}
}

// maxHeld reports the most the pages held at once since the last resetPeak,
// and how many pages were counted to a holder.
func (h *holdingStore) maxHeld() (peak int64, pages int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak, h.counted
}

// heldNow reports what the pages hold now.
func (h *holdingStore) heldNow() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

// resetPeak has the peak measured from what is held now.
func (h *holdingStore) resetPeak() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.peak = h.held
}

// TestStalledCatchingUpSubscribersHoldNoMoreThanTheCatchUpBudget: each
// subscription reading history held a page of events it had read and could
// not write: 5,000 stalled ones, with events of up to 1 MiB, held about
// 5 GiB until the stall timeout. What subscriptions reading the store hold is
// now bounded by CatchUpBytes, all together: a subscription over it waits
// for its turn without reading, and once the stalled ones move again every
// subscription gets every event once, in order. On both stores.
func TestStalledCatchingUpSubscribersHoldNoMoreThanTheCatchUpBudget(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		var ack acked
		ack.appendPadded(t, store, 4, 4, "Big", 128<<10)
		hs := newHoldingStore(store)
		const maxEvent = 150 << 10
		const budget = 3 << 20 // two subscriptions' pages
		f := runFeed(t, hs, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: maxEvent, CatchUpBytes: budget})

		const subs = 12
		release := make(chan struct{})
		var stalled atomic.Int64
		var wg sync.WaitGroup
		got := make([][]*eventstore.Event, subs)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		for i := range subs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sub := f.Subscribe(eventstore.SubscribeOptions{})
				defer sub.Close()
				first := true
				caughtUp := false
				emit := func(d eventstore.Delivery) error {
					if d.Event != nil {
						if first {
							// A client that takes nothing: its write waits.
							first = false
							stalled.Add(1)
							<-release
						}
						hs.wrote(i, d.Event)
						got[i] = append(got[i], d.Event)
					}
					caughtUp = caughtUp || d.CaughtUp
					return nil
				}
				drive(holding(ctx, i), sub, emit, func() bool { return caughtUp })
			}()
		}
		// Each has read a page and stalled, or waits for a place: nothing
		// moves until the stalled ones do (unbounded, all of them read).
		untilSettled(t, "every subscription to stall on a page or wait for a place", func() bool {
			return stalled.Load()+int64(fanout.CatchUpQueued(f)) == subs
		})
		// What the stalled ones hold is measured on its own: the check
		// below counts subscriptions, this one the bytes their pages hold.
		if peak, pages := hs.maxHeld(); pages == 0 {
			t.Fatal("no page read from the store was counted to its subscription: the test proves nothing")
		} else if peak > budget {
			t.Errorf("%d stalled subscriptions held %d bytes of pages read from the store; want at most CatchUpBytes (%d)", stalled.Load(), peak, budget)
		}
		if n := stalled.Load(); n >= subs {
			t.Errorf("all %d subscriptions read a page while the first ones were stalled; want those over the budget to wait", n)
		}
		close(release)
		wg.Wait() // every one catches up
		for i := range subs {
			checkExactlyOnce(t, "subscription", got[i], ack.events)
		}
		if peak, _ := hs.maxHeld(); peak > budget {
			t.Errorf("the subscriptions held up to %d bytes of pages read from the store; want at most CatchUpBytes (%d)", peak, budget)
		}
	})
}

// TestASubscriptionWaitingForItsTurnEndsWhenTheFeedStops: a subscription
// queued for the catch-up budget waits on its turn; when the feed stops, it
// must learn so (Ready, then Next's ErrStopped) even though the one holding
// the budget never gives it back. On both stores.
func TestASubscriptionWaitingForItsTurnEndsWhenTheFeedStops(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		appendN(t, store, uuid.New(), "X", 3)
		f := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, CatchUpBytes: 1}) // one place
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		nop := func(eventstore.Delivery) error { return nil }

		// The first reads a page and its consumer never asks again: it
		// holds the only place.
		holder := f.Subscribe(eventstore.SubscribeOptions{})
		defer holder.Close()
		waitFor(t, 5*time.Second, "the first subscription to take the place", func() bool {
			if err := holder.Next(ctx, nop); err != nil {
				t.Fatal(err)
			}
			return f.CatchUpBytes() > 0
		})
		queued := f.Subscribe(eventstore.SubscribeOptions{})
		defer queued.Close()
		// Its start is read first, on a goroutine of its own: then it waits
		// for its turn.
		waitFor(t, 5*time.Second, "the second subscription to wait for its turn", func() bool {
			if err := queued.Next(ctx, nop); err != nil {
				t.Fatal(err)
			}
			return fanout.CatchUpQueued(f) == 1
		})
		select {
		case <-queued.Ready():
			t.Fatal("the second subscription's turn came while the first held the only place")
		case <-time.After(100 * time.Millisecond):
		}
		cancel()
		<-done
		select {
		case <-queued.Ready():
		case <-time.After(5 * time.Second):
			t.Fatal("a subscription waiting for its turn was not woken in 5 s by the feed stopping")
		}
		if err := queued.Next(context.Background(), nop); !errors.Is(err, fanout.ErrStopped) {
			t.Fatalf("Next after the feed stopped = %v, want ErrStopped", err)
		}
	})
}

// failingReads is a store whose history reads fail while fail is set; its
// tail (the tailer's reads) is the store's own.
type failingReads struct {
	fanout.Store
	fail  atomic.Bool
	tries atomic.Int64
}

func (f *failingReads) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	f.tries.Add(1)
	if f.fail.Load() {
		return eventstore.LogPage{}, errors.New("database unreachable")
	}
	return f.Store.ReadAll(ctx, opts)
}

// TestAFailedHistoryReadDoesNotHoldItsPlaceWhileItWaitsToRetry: a
// subscription whose read of the store failed waits before it tries again,
// up to 5 s; it kept its place in the catch-up budget all that time, and
// with the budget taken by failing reads (a database outage, thousands of
// subscriptions), the others waited for nothing. It now gives the place
// back before it waits, and another subscription reads meanwhile: with one
// place, and the failing subscription's consumer not called again until the
// other has read everything. On both stores.
func TestAFailedHistoryReadDoesNotHoldItsPlaceWhileItWaitsToRetry(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		ack := appendN(t, store, uuid.New(), "X", 3)
		fs := &failingReads{Store: store}
		fs.fail.Store(true)
		// One place. The tailer looks when woken (a subscription's start).
		f := runFeed(t, fs, fanout.Options{PollInterval: time.Hour, CatchUpBytes: 1})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		nop := func(eventstore.Delivery) error { return nil }
		// readyOrHang waits for sub's Ready; the bound is on a hang alone.
		readyOrHang := func(sub eventstore.Subscription, what string) {
			t.Helper()
			select {
			case <-sub.Ready():
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: Ready never came", what)
			}
		}

		// Its consumer writes nothing, and calls again as Ready says, until
		// the subscription waits out its back-off. The read runs on a
		// goroutine of its own: the Next that takes its failure in is
		// followed by the one that gives the place back and waits.
		failing := f.Subscribe(eventstore.SubscribeOptions{})
		defer failing.Close()
		for calls := 0; !fanout.BackingOff(failing); calls++ {
			if calls == 10 {
				t.Fatalf("a subscription whose read of the store failed (%d tries) does not wait out a back-off after %d calls; want it to wait before it tries again", fs.tries.Load(), calls)
			}
			readyOrHang(failing, "the failing subscription")
			if err := failing.Next(ctx, nop); err != nil {
				t.Fatal(err)
			}
		}
		if fs.tries.Load() == 0 {
			t.Fatalf("the subscription waits out a back-off with no read of history tried")
		}
		if held := f.CatchUpBytes(); held != 0 {
			t.Errorf("a subscription waiting to retry a failed read holds %d bytes of the catch-up budget; want none", held)
		}

		// Another subscription reads meanwhile, once the store answers.
		fs.fail.Store(false)
		other := f.Subscribe(eventstore.SubscribeOptions{})
		defer other.Close()
		var got []*eventstore.Event
		emit := func(d eventstore.Delivery) error {
			if d.Event != nil {
				got = append(got, d.Event)
			}
			return nil
		}
		for {
			if err := other.Next(ctx, emit); err != nil {
				t.Fatal(err)
			}
			if len(got) >= 3 {
				break
			}
			readyOrHang(other, "a subscription reading while another waits to retry a failed read")
		}
		var want acked
		want.add(ack)
		checkExactlyOnce(t, "the other subscription", got, want.events)
	})
}

// declineLive is an emit error that declines an event of the live buffer.
type declineLive struct{}

func (declineLive) Error() string   { return "declined" }
func (declineLive) FromStore() bool { return true }

// TestAnEventDeclinedFromTheLiveBufferIsReadFromTheStore: a consumer may
// decline a large event of the live buffer that it cannot hold now (the HTTP
// layer: a write to a slow client that would keep one more large frame
// alive). The subscription then reads it, and what follows, from the store
// under its place in the catch-up budget, and the consumer gets every event
// once, in order, by NextLive and Next alike. On both stores.
func TestAnEventDeclinedFromTheLiveBufferIsReadFromTheStore(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		sub := f.Subscribe(eventstore.SubscribeOptions{}).(*fanout.Subscription)
		defer sub.Close()
		var got []*eventstore.Event
		declined := map[int64]bool{}
		fromStore := map[int64]bool{}
		caughtUp := false
		emit := func(d eventstore.Delivery) error {
			caughtUp = caughtUp || d.CaughtUp
			if d.Event == nil {
				return nil
			}
			p := d.Event.Position
			if !placed(sub) && p%3 == 0 && !declined[p] {
				declined[p] = true // each third event, once: it must come again
				return declineLive{}
			}
			fromStore[p] = placed(sub)
			got = append(got, d.Event)
			return nil
		}
		step := func() {
			t.Helper()
			if ok, err := sub.NextLive(ctx, emit); err != nil {
				t.Fatal(err)
			} else if !ok {
				if err := sub.Next(ctx, emit); err != nil {
					t.Fatal(err)
				}
			}
		}
		for deadline := time.Now().Add(5 * time.Second); !caughtUp; step() {
			if time.Now().After(deadline) {
				t.Fatal("not caught up within 5 s")
			}
			select {
			case <-sub.Ready():
			case <-time.After(time.Until(deadline)):
			}
		}
		var ack acked
		for range 4 {
			ack.add(appendN(t, f.Notifying(store), uuid.New(), "X", 3))
		}
		for deadline := time.Now().Add(5 * time.Second); len(got) < 12; step() {
			select {
			case <-sub.Ready():
			case <-time.After(time.Until(deadline)):
				t.Fatalf("got %d of 12 events in 5 s", len(got))
			}
		}
		checkExactlyOnce(t, "a subscription that declined live events", got, ack.events)
		for p := range declined {
			if !fromStore[p] {
				t.Errorf("the event at position %d, declined from the live buffer, came from it again; want it read from the store", p)
			}
		}
		if len(declined) == 0 {
			t.Error("no event came from the live buffer: the test proves nothing")
		}
	})
}

// placed reports whether sub delivers what it read from the store under its
// place in the catch-up budget.
func placed(sub *fanout.Subscription) bool {
	held, _ := sub.Place()
	return held
}

// TestAPlaceInTheCatchUpBudgetIsWhatAPageHolds: a place was counted as a
// page (about 1 MiB and one event), and one event more for its consumer's
// copy, and 64 KiB: 3 MiB at the default event bound, so 256 MiB let 83
// subscriptions catch up at once. The consumer now shares the page's large
// events rather than copy them (the HTTP layer's frames): a place is the
// page and what its rows and consumer hold besides, 2.25 MiB, and a budget
// of four of those lets four read at once, not two. What their pages hold
// still stays within it. On both stores.
func TestAPlaceInTheCatchUpBudgetIsWhatAPageHolds(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		const maxEvent = 1 << 20
		data := []byte(`{"pad":"` + strings.Repeat("x", maxEvent-16) + `"}`)
		for range 8 {
			if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Big", Data: data}}}); err != nil {
				t.Fatal(err)
			}
		}
		hs := newHoldingStore(store)
		const budget = 9 << 20 // four places of 2.25 MiB
		f := runFeed(t, hs, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: maxEvent, CatchUpBytes: budget})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		release := make(chan struct{})
		var stalled atomic.Int64
		var wg sync.WaitGroup
		const subs = 6
		for i := range subs {
			wg.Go(func() {
				sub := f.Subscribe(eventstore.SubscribeOptions{})
				defer sub.Close()
				first, caughtUp := true, false
				emit := func(d eventstore.Delivery) error {
					if d.Event != nil {
						if first {
							first = false
							stalled.Add(1) // its consumer's write waits
							<-release
						}
						hs.wrote(i, d.Event)
					}
					caughtUp = caughtUp || d.CaughtUp
					return nil
				}
				drive(holding(ctx, i), sub, emit, func() bool { return caughtUp })
			})
		}
		// Each has read a page and stalled, or waits for a place: none
		// reads more until the stalled ones move.
		untilSettled(t, "every subscription to stall on a page or wait for a place", func() bool {
			return stalled.Load()+int64(fanout.CatchUpQueued(f)) == subs
		})
		if n := stalled.Load(); n != 4 {
			t.Errorf("%d subscriptions read a page at once with a budget of four places, %d waiting; want four", n, fanout.CatchUpQueued(f))
		}
		if peak, pages := hs.maxHeld(); pages == 0 {
			t.Fatal("no page read from the store was counted to its subscription: the test proves nothing")
		} else if peak > budget {
			t.Errorf("the subscriptions' pages held %d bytes; want at most the budget, %d", peak, budget)
		}
		close(release)
		wg.Wait()
	})
}

// roomError asks for a place with room for a copy of n bytes.
type roomError int64

func (r roomError) Error() string { return "needs room" }
func (r roomError) Room() int64   { return int64(r) }

// TestAnEventThatNeedsRoomIsReadAgainUnderALargerPlace: a consumer that must
// copy a large event read from the store to write it (the HTTP layer: one
// not on one line) asks for room for that copy; the page stops before the
// event, and the subscription reads it again under a place with that room,
// counted in the budget, and the consumer still gets every event once, in
// order. On both stores.
func TestAnEventThatNeedsRoomIsReadAgainUnderALargerPlace(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		var ack acked
		for range 3 {
			ack.add(appendN(t, store, uuid.New(), "X", 3))
		}
		const maxEvent = 64 << 10
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: maxEvent})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		sub := f.Subscribe(eventstore.SubscribeOptions{}).(*fanout.Subscription)
		defer sub.Close()
		const room = 1 << 20
		var got []*eventstore.Event
		asked, caughtUp := false, false
		var held int64
		emit := func(d eventstore.Delivery) error {
			caughtUp = caughtUp || d.CaughtUp
			if d.Event == nil {
				return nil
			}
			if d.Event.Position == 5 {
				if _, r := sub.Place(); r < room {
					asked = true
					return roomError(room)
				}
				held = f.CatchUpBytes()
			}
			got = append(got, d.Event)
			return nil
		}
		for deadline := time.Now().Add(5 * time.Second); !caughtUp; {
			if err := sub.Next(ctx, emit); err != nil {
				t.Fatal(err)
			}
			select {
			case <-sub.Ready():
			case <-time.After(time.Until(deadline)):
				t.Fatalf("not caught up in 5 s; got %d events", len(got))
			}
		}
		checkExactlyOnce(t, "a subscription whose consumer asked for room", got, ack.events)
		if !asked {
			t.Fatal("the consumer never asked for room: the test proves nothing")
		}
		if held < room {
			t.Errorf("the event that needed room was delivered with %d bytes of the budget held; want its place to count the room, %d more than a page", held, room)
		}
	})
}

// TestAPlaceCountsEventsLargerThanTheBoundOnceOneIsSeen: a place counts one
// event as large as MaxEventBytes; events stored under a larger bound
// (TRIBUTARY_MAX_EVENT_BYTES lowered since) made pages larger than their
// places, and the budget no bound. Once the feed has seen such an event,
// places count the largest it has seen. Here the bound is 64 KiB and the
// log holds events of 1000 KiB: after one subscription has read them,
// stalled ones hold no more than the budget. On both stores.
func TestAPlaceCountsEventsLargerThanTheBoundOnceOneIsSeen(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		data := []byte(`{"pad":"` + strings.Repeat("x", 1000<<10) + `"}`)
		for range 6 {
			if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Big", Data: data}}}); err != nil {
				t.Fatal(err)
			}
		}
		hs := newHoldingStore(store)
		const budget = 4 << 20
		f := runFeed(t, hs, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 64 << 10, CatchUpBytes: budget})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		first, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0) // reads them all
		untilSettled(t, "a first subscription to read the log", func() bool { return first.count() == 6 })
		hs.resetPeak() // its reads are over: the others' are measured

		release := make(chan struct{})
		var stalled atomic.Int64
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				sub := f.Subscribe(eventstore.SubscribeOptions{})
				defer sub.Close()
				n := 0
				emit := func(d eventstore.Delivery) error {
					if d.Event != nil {
						if n++; n == 2 { // with the page's two events handed out
							stalled.Add(1)
							<-release
						}
						hs.wrote(i, d.Event)
					}
					return nil
				}
				drive(holding(ctx, i), sub, emit, nil)
			})
		}
		untilSettled(t, "every subscription to stall on a page or wait for a place", func() bool {
			return stalled.Load()+int64(fanout.CatchUpQueued(f)) == 6
		})
		// Each stalled one holds its page of two events, read whole before
		// its consumer writes it.
		if peak, pages := hs.maxHeld(); pages == 0 {
			t.Fatal("no page read from the store was counted to its subscription: the test proves nothing")
		} else if peak > budget {
			t.Errorf("%d stalled subscriptions held %d bytes of pages of events larger than MaxEventBytes; want at most the budget, %d",
				stalled.Load(), peak, budget)
		}
		close(release)
		cancel()
		wg.Wait()
	})
}

package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// runFeed starts a feed's tailer for the test's lifetime.
func runFeed(t *testing.T, r fanout.Store, opts fanout.Options) *fanout.Feed {
	t.Helper()
	f := fanout.New(r, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// collector keeps what one subscription delivered.
type collector struct {
	mu       sync.Mutex
	events   []*eventstore.Event
	caughtUp []eventstore.Delivery
	progress int64
	closed   bool
	err      error // what ended it
	// restAt is the cursor the subscription was last at rest at
	// (fanout.Rest), after its last Next: -1 if it was not; waitAt the
	// same for fanout.Waiting.
	restAt, waitAt int64
}

// subscribe opens a subscription whose deliveries are collected, with an
// optional pause after each event to make a slow subscriber.
func subscribe(t *testing.T, f *fanout.Feed, opts eventstore.SubscribeOptions, pause time.Duration) (*collector, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	sub := f.Subscribe(opts)
	c := &collector{restAt: -1, waitAt: -1}
	emit := func(d eventstore.Delivery) error {
		c.mu.Lock()
		switch {
		case d.Event != nil:
			c.events = append(c.events, d.Event)
		case d.CaughtUp:
			c.caughtUp = append(c.caughtUp, d)
		default:
			c.progress = d.Position
		}
		c.mu.Unlock()
		if d.Event != nil && pause > 0 {
			time.Sleep(pause)
		}
		return nil
	}
	go func() {
		defer sub.Close()
		var err error
		for err = sub.Next(ctx, emit); err == nil; err = sub.Next(ctx, emit) {
			cursor, rest := fanout.Rest(sub)
			_, waiting := fanout.Waiting(sub)
			c.mu.Lock()
			c.restAt, c.waitAt = -1, -1
			if rest {
				c.restAt = cursor
			}
			if waiting {
				c.waitAt = cursor
			}
			c.mu.Unlock()
			select {
			case <-sub.Ready():
			case <-ctx.Done():
			}
		}
		c.mu.Lock()
		c.closed, c.err = true, err
		c.mu.Unlock()
	}()
	return c, cancel
}

func (c *collector) snapshot() ([]*eventstore.Event, []eventstore.Delivery, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*eventstore.Event(nil), c.events...), append([]eventstore.Delivery(nil), c.caughtUp...), c.progress, c.closed
}

// ended reports what ended the subscription, nil while it is open.
func (c *collector) ended() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// restedAt reports whether the subscription is at rest (fanout.Rest) at
// position at or past it: it has delivered all it will of the log up to
// there.
func (c *collector) restedAt(at int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restAt >= at
}

// waitingAt reports whether the subscription waits (fanout.Waiting) at
// position at or past it: started, it has read all it will until the
// feed's head moves.
func (c *collector) waitingAt(at int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waitAt >= at
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// drive hands sub's deliveries to emit as they are ready, until ctx ends,
// Next returns an error, or done (unless nil) is true after a Next.
func drive(ctx context.Context, sub eventstore.Subscription, emit func(eventstore.Delivery) error, done func() bool) {
	for {
		if err := sub.Next(ctx, emit); err != nil {
			return
		}
		if done != nil && done() {
			return
		}
		select {
		case <-sub.Ready():
		case <-ctx.Done():
			return
		}
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// untilSettled polls cond, which says a state the feed holds to until the
// test moves (subscriptions stalled in their consumers, or queued for a
// place), with no bound of its own: a machine under load only takes longer.
// A state never reached fails the test just before its binary's deadline,
// saying what it waited for.
func untilSettled(t *testing.T, what string, cond func() bool) {
	t.Helper()
	untilSettledSaying(t, func() string { return what }, cond)
}

// untilSettledSaying is untilSettled with what said as it stands when the
// wait fails: how far the test got, not only what it waited for.
func untilSettledSaying(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	deadline, bounded := t.Deadline()
	for !cond() {
		if bounded && time.Until(deadline) < 5*time.Second {
			t.Fatalf("never reached: %s", what())
		}
		time.Sleep(time.Millisecond)
	}
}

type acked struct {
	mu     sync.Mutex
	events map[uuid.UUID]eventstore.RecordedEvent
}

func (a *acked) add(res eventstore.AppendResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.events == nil {
		a.events = map[uuid.UUID]eventstore.RecordedEvent{}
	}
	for _, e := range res.Events {
		a.events[e.ID] = e
	}
}

// appendPadded appends streams new streams of perStream events each, of
// type typ, whose data is an object padded to pad bytes and more, and
// records them in a; it returns the data of each.
func (a *acked) appendPadded(t *testing.T, s eventstore.Store, streams, perStream int, typ string, pad int) []byte {
	t.Helper()
	data := []byte(`{"pad":"` + strings.Repeat("x", pad) + `"}`)
	evs := make([]eventstore.NewEvent, perStream)
	for i := range evs {
		evs[i] = eventstore.NewEvent{Type: typ, Data: data}
	}
	for range streams {
		res, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs})
		if err != nil {
			t.Fatal(err)
		}
		a.add(res)
	}
	return data
}

func appendN(t *testing.T, s eventstore.Store, stream uuid.UUID, typ string, n int) eventstore.AppendResult {
	t.Helper()
	evs := make([]eventstore.NewEvent, n)
	for i := range evs {
		evs[i] = eventstore.NewEvent{Type: typ, Data: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	res, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Events: evs})
	if err != nil {
		t.Errorf("append: %v", err)
	}
	return res
}

// checkSubscribers waits until each subscriber has received as many events
// as were acknowledged, then checks it got each once, in order, and one
// caught-up delivery.
func checkSubscribers(t *testing.T, subs []*collector, want map[uuid.UUID]eventstore.RecordedEvent) {
	t.Helper()
	for i, c := range subs {
		waitFor(t, 20*time.Second, fmt.Sprintf("subscriber %d to receive %d events", i, len(want)), func() bool { return c.count() >= len(want) })
		evs, caught, _, _ := c.snapshot()
		checkExactlyOnce(t, fmt.Sprintf("subscriber %d", i), evs, want)
		if len(caught) != 1 {
			t.Errorf("subscriber %d got %d caught-up deliveries, want exactly 1", i, len(caught))
		}
	}
}

// checkExactlyOnce fails unless got holds every acknowledged event once, in
// strictly increasing positions, and nothing else.
func checkExactlyOnce(t *testing.T, name string, got []*eventstore.Event, want map[uuid.UUID]eventstore.RecordedEvent) {
	t.Helper()
	seen := map[uuid.UUID]bool{}
	last := int64(0)
	for _, e := range got {
		if e.Position <= last {
			t.Fatalf("%s: position %d after %d: out of order or repeated", name, e.Position, last)
		}
		last = e.Position
		w, ok := want[e.ID]
		if !ok || w.Position != e.Position || seen[e.ID] {
			t.Fatalf("%s: event %s at %d was not acknowledged there, or came twice", name, e.ID, e.Position)
		}
		seen[e.ID] = true
	}
	if len(seen) != len(want) {
		t.Fatalf("%s: received %d of %d acknowledged events", name, len(seen), len(want))
	}
}

// TestHandoverFromHistoryToLiveLosesAndRepeatsNothing starts subscribers
// while writers are busy, so that events commit during every subscriber's
// catch-up, at its handover and after it.
func TestHandoverFromHistoryToLiveLosesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 20 * time.Millisecond, PageSize: 7})
		notifying := f.Notifying(store)
		var ack acked
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				// Half the writers wake the feed, half leave it to polling.
				s := eventstore.Store(store)
				if w%2 == 0 {
					s = notifying
				}
				for i := range 40 {
					ack.add(appendN(t, s, uuid.New(), "Happened", 1+(w+i)%3))
				}
			})
		}
		var subs []*collector
		for range 6 {
			time.Sleep(40 * time.Millisecond)
			c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
			subs = append(subs, c)
		}
		wg.Wait()
		checkSubscribers(t, subs, ack.events)
	})
}

// TestSlowSubscriberFallsBackToTheStoreWithoutHoldingUpOthers gives
// subscribers a tiny buffer: a slow one overflows it, leaves the live feed,
// reads from the store at its own pace and still gets everything once, while a
// fast one is served as if it were alone.
func TestSlowSubscriberFallsBackToTheStoreWithoutHoldingUpOthers(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, Buffer: 4, PageSize: 50})
		slow, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 3*time.Millisecond)
		fast, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		waitFor(t, 5*time.Second, "both subscribers to catch up", func() bool {
			_, a, _, _ := slow.snapshot()
			_, b, _, _ := fast.snapshot()
			return len(a) == 1 && len(b) == 1
		})
		var ack acked
		s := f.Notifying(store)
		for range 20 {
			ack.add(appendN(t, s, uuid.New(), "Burst", 50))
		}
		const total = 1000
		waitFor(t, 10*time.Second, "the fast subscriber to receive every event", func() bool { return fast.count() >= total })
		if n := slow.count(); n >= total {
			t.Logf("the slow subscriber kept up (%d events); the test proves less than it should", n)
		}
		if f.Dropped() == 0 {
			t.Errorf("no subscriber left the live feed, want the slow one to have overflowed its buffer of 4")
		}
		waitFor(t, 30*time.Second, "the slow subscriber to receive every event", func() bool { return slow.count() >= total })
		fe, _, _, _ := fast.snapshot()
		se, _, _, _ := slow.snapshot()
		checkExactlyOnce(t, "fast subscriber", fe, ack.events)
		checkExactlyOnce(t, "slow subscriber", se, ack.events)
	})
}

func TestFiltersDeliverOnlyMatchingEventsAndReportProgress(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		s := f.Notifying(store)
		orders, invoices := uuid.New(), uuid.New()
		mustAppend := func(id uuid.UUID, typ, evType string) eventstore.AppendResult {
			t.Helper()
			res, err := s.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: typ,
				Events: []eventstore.NewEvent{{Type: evType, Data: []byte(`{}`)}}})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		mustAppend(orders, "order", "Placed") // history, filtered out
		paidHistory := mustAppend(orders, "order", "Paid")
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{StreamTypes: []string{"order"}, EventTypes: []string{"Paid", "Shipped"}}, 0)
		waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
		mustAppend(invoices, "invoice", "Paid") // wrong stream type
		shipped := mustAppend(orders, "order", "Shipped")
		var last eventstore.AppendResult
		for range 5 {
			last = mustAppend(invoices, "invoice", "Issued") // skipped
		}
		waitFor(t, 5*time.Second, "progress past the skipped events", func() bool {
			_, _, p, _ := c.snapshot()
			return p >= last.Events[0].Position
		})
		evs, _, _, _ := c.snapshot()
		if len(evs) != 2 || evs[0].ID != paidHistory.Events[0].ID || evs[1].ID != shipped.Events[0].ID {
			t.Fatalf("filtered subscription delivered %d events, want the Paid order from history and the Shipped one live", len(evs))
		}
	})
}

func TestStreamSubscriptionFromAVersionAndBeforeTheStreamExists(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		s := f.Notifying(store)
		stream, other := uuid.New(), uuid.New()

		early, _ := subscribe(t, f, eventstore.SubscribeOptions{StreamID: stream, FromVersion: 1}, 0)
		waitFor(t, 5*time.Second, "caught up on a missing stream", func() bool { _, cu, _, _ := early.snapshot(); return len(cu) == 1 })
		if _, cu, _, _ := early.snapshot(); cu[0].Version != 0 {
			t.Errorf("caught-up version of a stream that does not exist = %d, want 0", cu[0].Version)
		}
		appendN(t, s, other, "Noise", 3)
		appendN(t, s, stream, "Happened", 5)
		appendN(t, s, other, "Noise", 3)

		mid, _ := subscribe(t, f, eventstore.SubscribeOptions{StreamID: stream, FromVersion: 3}, 0)
		beyond, _ := subscribe(t, f, eventstore.SubscribeOptions{StreamID: stream, FromVersion: 8}, 0)
		waitFor(t, 5*time.Second, "caught up", func() bool {
			_, a, _, _ := mid.snapshot()
			_, b, _, _ := beyond.snapshot()
			return len(a) == 1 && len(b) == 1
		})
		appendN(t, s, stream, "Happened", 4) // versions 6..9
		versions := func(c *collector) []int64 {
			evs, _, _, _ := c.snapshot()
			var v []int64
			for _, e := range evs {
				if e.StreamID != stream {
					t.Fatalf("stream subscription delivered an event of stream %s", e.StreamID)
				}
				v = append(v, e.Version)
			}
			return v
		}
		waitFor(t, 5*time.Second, "all versions", func() bool { return len(versions(early)) == 9 && len(versions(mid)) == 7 && len(versions(beyond)) == 2 })
		for name, c := range map[string]*collector{"from 1": early, "from 3": mid, "from 8": beyond} {
			v := versions(c)
			for i := 1; i < len(v); i++ {
				if v[i] != v[i-1]+1 {
					t.Errorf("subscription %s delivered versions %v, want consecutive", name, v)
				}
			}
		}
		if v := versions(mid); v[0] != 3 {
			t.Errorf("subscription from 3 started at version %d", v[0])
		}
		if v := versions(beyond); v[0] != 8 {
			t.Errorf("subscription from 8 started at version %d", v[0])
		}
		if _, cu, _, _ := mid.snapshot(); cu[0].Version != 5 {
			t.Errorf("caught-up version at version 5 = %d", cu[0].Version)
		}
	})
}

// countingReader counts the log reads the feed makes, its tailer's included.
type countingReader struct {
	fanout.Store
	// reads counts the reads of pages of the log: the subscriptions' reads
	// of history, and the tailer's polls (tails counts those alone).
	reads atomic.Int64
	tails atomic.Int64
	// heads counts the tailer's reads of the event at the head: by its id
	// alone (IDAt), which it reads when it follows the head with no
	// subscription open, and after each read of a page past a large head
	// event (not counted in reads), or whole (a read of one event); a small
	// head's event comes with the page, in the same read.
	heads atomic.Int64
}

func (c *countingReader) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	c.reads.Add(1)
	return c.Store.ReadAll(ctx, opts)
}

func (c *countingReader) Tail() eventstore.LogTail {
	return countingTail{c.Store.Tail(), c}
}

type countingTail struct {
	eventstore.LogTail
	c *countingReader
}

func (c countingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if opts.Limit == 1 {
		c.c.heads.Add(1)
	} else {
		c.c.reads.Add(1)
		c.c.tails.Add(1)
	}
	return c.LogTail.ReadAll(ctx, opts)
}

func (c countingTail) IDAt(ctx context.Context, position int64) (uuid.UUID, error) {
	c.c.heads.Add(1)
	return c.LogTail.IDAt(ctx, position)
}

// TestOneTailerReadsTheStoreForEverySubscriber: once caught up, a hundred
// subscribers cost the store no more reads than one: none of their own,
// and one read of the tailer's for each time it looks. The tailer looks
// only when a commit wakes it (its poll interval is an hour), so that the
// reads are counted against the commits, not against a clock.
func TestOneTailerReadsTheStoreForEverySubscriber(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		reader := &countingReader{Store: store}
		f := runFeed(t, reader, fanout.Options{PollInterval: time.Hour})
		var subs []*collector
		for range 100 {
			c, _ := subscribe(t, f, eventstore.SubscribeOptions{EventTypes: []string{"X"}}, 0)
			subs = append(subs, c)
		}
		restAt := func(what string, n int) {
			waitFor(t, 30*time.Second, fmt.Sprintf("100 subscribers %s", what), func() bool {
				for _, c := range subs {
					if _, cu, _, _ := c.snapshot(); len(cu) != 1 || c.count() != n || !c.restedAt(int64(n)) {
						return false
					}
				}
				return true
			})
		}
		restAt("to catch up", 0)
		reads, tails := reader.reads.Load(), reader.tails.Load()
		const commits = 5
		notifying := f.Notifying(store)
		for i := range commits {
			appendN(t, notifying, uuid.New(), "X", 1)
			restAt(fmt.Sprintf("to get event %d", i+1), i+1)
		}
		tailed := reader.tails.Load() - tails
		if own := reader.reads.Load() - reads - tailed; own != 0 {
			t.Errorf("100 live subscribers read the store %d times for %d commits; want none: the tailer reads for them", own, commits)
		}
		// One look for each commit's wake-up, and one for a wake-up of the
		// subscriptions' starts still pending when they had caught up.
		if tailed > commits+1 {
			t.Errorf("the tailer read the log %d times for %d commits, with 100 subscribers; want one read for each wake-up, at most %d", tailed, commits, commits+1)
		}
	})
}

// TestLargeEventsReachTheLiveFeedWhole: the tailer reads a page of the log
// in one query but keeps only about a megabyte of it, and reads on from
// there; large events between small ones still reach a live subscriber
// once, in order.
func TestLargeEventsReachTheLiveFeedWhole(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond})
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
		var ack acked
		big := eventstore.NewEvent{Type: "Big", Data: []byte(`{"pad":"` + strings.Repeat("x", 600_000) + `"}`)}
		for range 3 {
			ack.add(appendN(t, store, uuid.New(), "Small", 5))
			res, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing",
				Events: []eventstore.NewEvent{big, big, big}})
			if err != nil {
				t.Fatal(err)
			}
			ack.add(res)
		}
		total := len(ack.events)
		waitFor(t, 20*time.Second, fmt.Sprintf("%d events", total), func() bool { return c.count() >= total })
		evs, _, _, _ := c.snapshot()
		checkExactlyOnce(t, "live subscriber", evs, ack.events)
	})
}

// TestWithNoSubscriptionTheTailerReadsNoEvents: an instance nobody
// subscribes to does not read back every event it writes; it follows the
// log's head, and reads the one event there each time the head moves (to
// notice the log going back under it). Subscriptions that open later, while
// writers go on, still get every event once, in order.
func TestWithNoSubscriptionTheTailerReadsNoEvents(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		tail := &countingReader{Store: store}
		f := runFeed(t, tail, fanout.Options{PollInterval: 10 * time.Millisecond, PageSize: 5})
		notifying := f.Notifying(store)
		var ack acked
		for i := range 20 {
			ack.add(appendN(t, notifying, uuid.New(), "Happened", 1+i%3))
		}
		last, err := store.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, fmt.Sprintf("the feed to follow the head to %d", last), func() bool { return fanout.Head(f) == last })
		if n := tail.reads.Load(); n != 0 {
			t.Fatalf("with no subscription open, the feed read pages of the log %d times; want none", n)
		}
		if n := tail.heads.Load(); n > 20 {
			t.Fatalf("with no subscription open, the feed read the event at the head %d times for 20 appends; want one read at most for each move of the head", n)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := range 30 {
				ack.add(appendN(t, notifying, uuid.New(), "Happened", 1+i%3))
			}
		})
		var subs []*collector
		for range 3 {
			c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
			subs = append(subs, c)
			time.Sleep(15 * time.Millisecond)
		}
		wg.Wait()
		checkSubscribers(t, subs, ack.events)
	})
}

// TestSubscriptionsEndWithTheirContextAndLeaveNothingBehind opens and
// abandons many subscriptions, live and mid-catch-up, and checks that no
// subscription or goroutine outlives them.
//
// It counts the process's goroutines, so it runs alone: not in parallel with
// other tests (Go runs the parallel ones once the others are done), and one
// store after the other.
func TestSubscriptionsEndWithTheirContextAndLeaveNothingBehind(t *testing.T) {
	teststore.ForEachSerial(t, testSubscriptionsEndAndLeaveNothing)
}

func testSubscriptionsEndAndLeaveNothing(t *testing.T, k teststore.Kind) {
	store := k.Open(t)
	f := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, PageSize: 5})
	appendN(t, store, uuid.New(), "Happened", 100)
	base := feedGoroutines()
	var cancels []context.CancelFunc
	for i := range 50 {
		// Some read slowly so they are mid-history when they are cancelled.
		_, cancel := subscribe(t, f, eventstore.SubscribeOptions{}, time.Duration(i%2)*time.Millisecond)
		cancels = append(cancels, cancel)
	}
	waitFor(t, 5*time.Second, "50 subscriptions", func() bool { return f.Subscribers() == 50 })
	for _, cancel := range cancels {
		cancel()
	}
	waitFor(t, 5*time.Second, "every subscription to end", func() bool { return f.Subscribers() == 0 })
	waitFor(t, 10*time.Second, fmt.Sprintf("goroutines in this package's code back to %d", base), func() bool { return feedGoroutines() <= base })
}

// feedGoroutines counts the goroutines with a frame of this package's code or
// its tests: a subscription's, if it had any. The store's own (the driver's
// per-connection watchers, which a pool that grew keeps) are not counted.
func feedGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "tributary/internal/fanout") && !strings.Contains(g, "feedGoroutines") {
			count++
		}
	}
	return count
}

// TestWritesOfAnotherProcessArriveByPollingAlone: a feed learns of another
// process's commits by polling alone: nothing notifies it of them. The
// wait bounds a hang, not the delay: it said "within a poll interval" and
// gave 2 s, 40 intervals, which a loaded machine may take and a broken
// poll need not.
func TestWritesOfAnotherProcessArriveByPollingAlone(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	a, b := teststore.OpenMySQL(t, dsn), teststore.OpenMySQL(t, dsn)
	f := runFeed(t, b, fanout.Options{PollInterval: 50 * time.Millisecond})
	c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
	var ack acked
	for range 5 {
		ack.add(appendN(t, a, uuid.New(), "Elsewhere", 2))
	}
	waitFor(t, 30*time.Second, "events written through another store", func() bool { return c.count() >= 10 })
	evs, _, _, _ := c.snapshot()
	checkExactlyOnce(t, "subscriber of the other process", evs, ack.events)
}

func TestSubscriptionsCloseWhenTheFeedStops(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done }) // stopped by the test, unless it fails first
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
		cancel()
		<-done
		expectEndedBy(t, map[string]*collector{"the subscription": c}, fanout.ErrStopped)
	})
}

// gatedStore holds its tail's WaitDurable while the gate is shut, like a
// database slow to flush its log.
type gatedStore struct {
	eventstore.Store
	gate *gate
}

type gate struct {
	shut   atomic.Pointer[chan struct{}]
	waited atomic.Int64 // the waits for durability that found it shut
}

func (g *gate) close() {
	c := make(chan struct{})
	g.shut.Store(&c)
}

func (g *gate) open() {
	if c := g.shut.Swap(nil); c != nil {
		close(*c)
	}
}

func (g gatedStore) Tail() eventstore.LogTail { return gatedTail{g.Store.Tail(), g.gate} }

type gatedTail struct {
	eventstore.LogTail
	gate *gate
}

func (g gatedTail) WaitDurable(ctx context.Context, position int64) error {
	c := g.gate.shut.Load()
	if c == nil {
		return g.LogTail.WaitDurable(ctx, position)
	}
	g.gate.waited.Add(1)
	select {
	case <-*c:
		return g.LogTail.WaitDurable(ctx, position)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestNothingIsDeliveredBeforeTheStoreSaysItIsDurable: the tailer waits for
// the store's durability fence before handing events out, and catch-up never
// reads past what the tailer has handed out.
func TestNothingIsDeliveredBeforeTheStoreSaysItIsDurable(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	gated := gatedStore{Store: store, gate: &gate{}}
	f := runFeed(t, gated, fanout.Options{PollInterval: 10 * time.Millisecond})
	early, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := early.snapshot(); return len(cu) == 1 })
	gated.gate.close()
	appendN(t, store, uuid.New(), "Happened", 3)
	late, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	// The tailer has read the events and waits for the store to say them
	// durable; the late subscriber has started, and read all it will
	// until the feed's head moves.
	waitFor(t, 30*time.Second, "the tailer to wait for durability", func() bool { return gated.gate.waited.Load() > 0 })
	waitFor(t, 30*time.Second, "the late subscriber to wait for the feed", func() bool { return late.waitingAt(0) })
	if n, m, head := early.count(), late.count(), fanout.Head(f); n != 0 || m != 0 || head != 0 {
		t.Fatalf("subscribers received %d and %d events, and the feed handed out up to %d, while the store had not confirmed them durable; want none", n, m, head)
	}
	gated.gate.open()
	waitFor(t, 5*time.Second, "both subscribers to receive the 3 events", func() bool { return early.count() == 3 && late.count() == 3 })
}

// TestHistoryUpToTheTailersStartWaitsForDurability: events committed before
// the feed starts are history, and catch-up reads up to the tailer's first
// head; that head too must be durable before anything up to it is delivered.
func TestHistoryUpToTheTailersStartWaitsForDurability(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	appendN(t, store, uuid.New(), "Happened", 3)
	gated := gatedStore{Store: store, gate: &gate{}}
	gated.gate.close()
	f := runFeed(t, gated, fanout.Options{PollInterval: 10 * time.Millisecond})
	sub, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	// The tailer's start waits for the store to say its head durable; the
	// subscriber waits for the start.
	waitFor(t, 30*time.Second, "the tailer's start to wait for durability", func() bool { return gated.gate.waited.Load() > 0 })
	if n, head := sub.count(), fanout.Head(f); n != 0 || head != 0 {
		t.Fatalf("the subscriber received %d events committed before the feed started, and the feed's head is %d, before the store confirmed them durable; want none, and 0", n, head)
	}
	gated.gate.open()
	waitFor(t, 5*time.Second, "the subscriber to receive the 3 events", func() bool { return sub.count() == 3 })
}

// hidingTail hides from the tailer's reads the position hidden names (0:
// none), as a database that shows a later commit before an earlier one.
type hidingTail struct {
	eventstore.LogTail
	hidden func() int64
}

func (h hidingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	page, err := h.LogTail.ReadAll(ctx, opts)
	hidden := h.hidden()
	if err != nil || hidden == 0 {
		return page, err
	}
	all := page.Events
	page.Events = func(yield func(eventstore.Event, error) bool) {
		for e, err := range all {
			if err == nil && e.Position == hidden {
				continue
			}
			if !yield(e, err) {
				return
			}
		}
	}
	return page, nil
}

type hidingStore struct {
	eventstore.Store
	tail hidingTail
}

func (h hidingStore) Tail() eventstore.LogTail { return h.tail }

// TestALaterCommitSeenFirstDoesNotMakeTheFeedSkipTheEarlierOne: when the
// tailer finds a position while a lower one is not visible yet, it hands out
// only what lies before the gap, and the rest once the gap has filled. The
// gap's patience runs on a clock that does not move: the test counts the
// tailer's reads that met the gap, not time.
func TestALaterCommitSeenFirstDoesNotMakeTheFeedSkipTheEarlierOne(t *testing.T) {
	t.Parallel()
	store := teststore.OpenSQLite(t, t.TempDir())
	var hide, hid atomic.Int64
	hiding := hidingStore{Store: store, tail: hidingTail{LogTail: store.Tail(), hidden: func() int64 {
		p := hide.Load()
		if p != 0 {
			hid.Add(1)
		}
		return p
	}}}
	f := runFeedOnClock(t, hiding, fanout.Options{PollInterval: 10 * time.Millisecond}, func() time.Time { return time.Unix(0, 0) })
	c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
	hide.Store(2)
	for range 3 {
		appendN(t, store, uuid.New(), "Happened", 1)
	}
	n := hid.Load()
	waitFor(t, 30*time.Second, "the tailer to read again with position 2 missing", func() bool { return hid.Load() >= n+3 })
	if got := fanout.Head(f); got != 1 {
		t.Fatalf("with position 2 not yet visible, the feed handed out up to %d; want only position 1", got)
	}
	if n := c.count(); n != 1 {
		t.Fatalf("with position 2 not yet visible, the subscriber got %d events; want only position 1", n)
	}
	hide.Store(0)
	waitFor(t, 5*time.Second, "all three events", func() bool { return c.count() == 3 })
	evs, _, _, _ := c.snapshot()
	for i, e := range evs {
		if e.Position != int64(i+1) {
			t.Fatalf("event %d has position %d; want 1, 2, 3 in order", i, e.Position)
		}
	}
}

// runFeedOnClock is runFeed with the gap's patience measured on now.
func runFeedOnClock(t *testing.T, r fanout.Store, opts fanout.Options, now func() time.Time) *fanout.Feed {
	t.Helper()
	f := fanout.New(r, opts)
	fanout.SetClock(f, now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// TestEachMissingPositionGetsItsOwnPatience: a second hole that opens after
// the first one filled is waited for afresh, not skipped because the first
// one's patience has run out; once its own has, it is skipped. The patience
// runs on a clock the test steps, and each step is followed by reads of the
// tailer that met the hole, so that nothing hangs on how fast the machine
// is.
func TestEachMissingPositionGetsItsOwnPatience(t *testing.T) {
	t.Parallel()
	store := teststore.OpenSQLite(t, t.TempDir())
	var hide atomic.Int64   // the position the tailer's reads do not see
	var hid [5]atomic.Int64 // the tailer's reads that hid each position
	moving := hidingStore{Store: store, tail: hidingTail{LogTail: store.Tail(), hidden: func() int64 {
		p := hide.Load()
		hid[p].Add(1)
		return p
	}}}
	const patience = time.Minute
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	f := runFeedOnClock(t, moving, fanout.Options{PollInterval: 10 * time.Millisecond, GapPatience: patience},
		func() time.Time { return time.Unix(0, clock.Load()) })
	// lookAgain waits for the tailer to read three more times with p
	// hidden: the first read's gap is then taken in (the tailer reads, then
	// weighs what it read, then reads again).
	lookAgain := func(p int64) {
		t.Helper()
		n := hid[p].Load()
		waitFor(t, 30*time.Second, fmt.Sprintf("the tailer to read again with position %d missing", p), func() bool { return hid[p].Load() >= n+3 })
	}
	handedOut := func(want int64, why string) {
		t.Helper()
		if got := fanout.Head(f); got != want {
			t.Fatalf("the feed handed out up to position %d; want %d: %s", got, want, why)
		}
	}

	c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
	hide.Store(2)
	for range 5 {
		appendN(t, store, uuid.New(), "Happened", 1)
	}
	lookAgain(2)
	handedOut(1, "position 2 is missing, and its patience has not run out")

	clock.Add(int64(patience * 3 / 4))
	hide.Store(4) // 2 shows, 4 goes missing: its patience starts now
	lookAgain(4)
	handedOut(3, "positions 2 and 3 are there, 4 is missing")

	clock.Add(int64(patience / 2)) // past the first hole's patience, within the second's
	lookAgain(4)
	handedOut(3, "the hole at 4 has waited half its patience (the one at 2, which filled, would have run out)")

	clock.Add(int64(patience)) // past the second's too
	lookAgain(4)
	handedOut(5, "the hole at 4 has outlasted its patience, and is skipped")

	hide.Store(0)
	waitFor(t, 5*time.Second, "four events", func() bool { return c.count() == 4 })
	evs, _, _, _ := c.snapshot()
	for i, want := range []int64{1, 2, 3, 5} {
		if evs[i].Position != want {
			t.Fatalf("event %d has position %d; want 1, 2, 3, then 5 past the skipped hole", i, evs[i].Position)
		}
	}
}

// failingTail is a log whose head cannot be read; it counts the tries.
type failingTail struct {
	eventstore.LogTail
	tries *atomic.Int64
}

func (f failingTail) Head(context.Context) (int64, error) {
	f.tries.Add(1)
	return 0, errors.New("no database")
}

type failingStore struct {
	eventstore.Store
	tries *atomic.Int64
}

func (f failingStore) Tail() eventstore.LogTail { return failingTail{f.Store.Tail(), f.tries} }

// TestSubscriptionsEndWhenTheFeedStopsBeforeItEverStarted: a subscription
// waits for the tailer to know the head; if the tailer gives up first, the
// subscription ends rather than wait for ever.
func TestSubscriptionsEndWhenTheFeedStopsBeforeItEverStarted(t *testing.T) {
	t.Parallel()
	tries := &atomic.Int64{}
	f := fanout.New(failingStore{teststore.SQLite.Open(t), tries}, fanout.Options{PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done }) // stopped by the test, unless it fails first
	c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
	// Tried once more since the subscription opened, and once more after
	// that: it is still trying.
	since := tries.Load()
	waitFor(t, 30*time.Second, "the feed to try to read the head twice more", func() bool { return tries.Load() >= since+2 })
	if _, _, _, closed := c.snapshot(); closed {
		t.Fatal("the subscription ended while the feed was still trying to start")
	}
	cancel()
	<-done
	expectEndedBy(t, map[string]*collector{"the subscription": c}, fanout.ErrStopped)
}

// TestNextLiveNeverReadsTheStoreAndLosesNothing: the HTTP layer calls
// NextLive in a turn that must not wait on the database, and Next only when
// NextLive says the store must be read. A subscriber that does so, and falls
// behind a small buffer again and again, must still get every event once
// and in order, and no read of the store may come from a NextLive call.
func TestNextLiveNeverReadsTheStoreAndLosesNothing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		spy := &readSpy{Store: store}
		f := runFeed(t, spy, fanout.Options{PollInterval: 10 * time.Millisecond, Buffer: 4, PageSize: 50})
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		sub := f.Subscribe(eventstore.SubscribeOptions{})
		c := &collector{}
		emit := func(d eventstore.Delivery) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			if d.Event != nil {
				c.events = append(c.events, d.Event)
				time.Sleep(time.Millisecond) // slower than the writer: it falls behind
			} else if d.CaughtUp {
				c.caughtUp = append(c.caughtUp, d)
			}
			return nil
		}
		live := sub.(interface {
			NextLive(context.Context, func(eventstore.Delivery) error) (bool, error)
		})
		var fromBuffer, fellBack atomic.Int64
		go func() {
			defer sub.Close()
			liveCtx := context.WithValue(ctx, inNextLive{}, true)
			for {
				ok, err := live.NextLive(liveCtx, emit)
				if err != nil {
					return
				}
				if ok {
					fromBuffer.Add(1)
				} else {
					fellBack.Add(1)
					if sub.Next(ctx, emit) != nil {
						return
					}
				}
				select {
				case <-sub.Ready():
				case <-ctx.Done():
					return
				}
			}
		}()
		waitFor(t, 5*time.Second, "caught up", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
		var ack acked
		s := f.Notifying(store)
		for i := range 150 {
			ack.add(appendN(t, s, uuid.New(), "Burst", 3)) // fits the buffer of 4
			if (i/50)%2 == 0 {
				// Paced, then at full speed, then paced: it keeps up with
				// the buffer, falls behind it, and keeps up again.
				time.Sleep(5 * time.Millisecond)
			}
		}
		checkSubscribers(t, []*collector{c}, ack.events)
		if fromBuffer.Load() == 0 || f.Dropped() == 0 || fellBack.Load() == 0 {
			t.Errorf("%d reads of the buffer, %d falls behind it, %d calls of Next; want each, or the test proves nothing",
				fromBuffer.Load(), f.Dropped(), fellBack.Load())
		}
		if n := spy.liveReads.Load(); n != 0 {
			t.Errorf("NextLive read the store %d times; want never", n)
		}
	})
}

// inNextLive marks the context of a NextLive call.
type inNextLive struct{}

// readSpy counts the reads of the store made with a NextLive call's context.
type readSpy struct {
	fanout.Store
	liveReads atomic.Int64
}

func (s *readSpy) spy(ctx context.Context) {
	if ctx.Value(inNextLive{}) != nil {
		s.liveReads.Add(1)
	}
}

func (s *readSpy) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	s.spy(ctx)
	return s.Store.ReadAll(ctx, opts)
}

func (s *readSpy) Head(ctx context.Context) (int64, error) {
	s.spy(ctx)
	return s.Store.Head(ctx)
}

func (s *readSpy) EventPosition(ctx context.Context, id uuid.UUID, version int64) (int64, error) {
	s.spy(ctx)
	return s.Store.EventPosition(ctx, id, version)
}

func (s *readSpy) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	s.spy(ctx)
	return s.Store.Stream(ctx, id)
}

// appendAfterHead is a store whose first Head, the one a subscription takes
// its target from, lets an append to a stream commit right after it: the
// stream then has an event that is not history but that the subscription
// has not delivered when it catches up.
type appendAfterHead struct {
	fanout.Store
	once   sync.Once
	append func()
}

func (s *appendAfterHead) Head(ctx context.Context) (int64, error) {
	h, err := s.Store.Head(ctx)
	s.once.Do(s.append)
	return h, err
}

// TestAStreamsCaughtUpVersionIsNeverAheadOfWhatWasDelivered: the caught-up
// delivery of a stream subscription says the version up to which
// everything has been delivered. An event that commits while a subscription
// that has delivered nothing yet catches up is delivered after caught-up,
// and caught-up must not count it: it said the stream's version read at that
// moment, so a consumer told "caught up at 1" then got version 1.
func TestAStreamsCaughtUpVersionIsNeverAheadOfWhatWasDelivered(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, from := range []int64{1, 3} {
			t.Run(fmt.Sprintf("from=%d", from), func(t *testing.T) {
				store := k.Open(t)
				stream := uuid.New()
				if from > 1 {
					appendN(t, store, stream, "Before", int(from-1))
				}
				appendN(t, store, uuid.New(), "Noise", 2)
				spy := &appendAfterHead{Store: store, append: func() { appendN(t, store, stream, "Racing", 1) }}
				f := runFeed(t, spy, fanout.Options{PollInterval: 10 * time.Millisecond})
				type got struct {
					caughtUp bool
					version  int64
				}
				var mu sync.Mutex
				var log []got
				ctx, cancel := context.WithCancel(context.Background())
				t.Cleanup(cancel)
				sub := f.Subscribe(eventstore.SubscribeOptions{StreamID: stream, FromVersion: from})
				go func() {
					defer sub.Close()
					for sub.Next(ctx, func(d eventstore.Delivery) error {
						mu.Lock()
						defer mu.Unlock()
						switch {
						case d.Event != nil:
							log = append(log, got{version: d.Event.Version})
						case d.CaughtUp:
							log = append(log, got{caughtUp: true, version: d.Version})
						}
						return nil
					}) == nil {
						select {
						case <-sub.Ready():
						case <-ctx.Done():
						}
					}
				}()
				waitFor(t, 5*time.Second, "caught up and the racing event", func() bool {
					mu.Lock()
					defer mu.Unlock()
					return len(log) == 2
				})
				mu.Lock()
				defer mu.Unlock()
				delivered := from - 1 // every version below from counts as delivered
				for _, g := range log {
					switch {
					case g.caughtUp && g.version != delivered:
						t.Errorf("caught up at version %d with versions up to %d delivered (deliveries %+v); want %d", g.version, delivered, log, delivered)
					case !g.caughtUp:
						delivered = g.version
					}
				}
				if delivered != from {
					t.Errorf("delivered up to version %d, want the racing event, version %d (deliveries %+v)", delivered, from, log)
				}
			})
		}
	})
}

// Package fanout is the live feed of the log. One tailer per process reads the
// events committed after the last position it has seen, once per poll
// interval or at once when woken after a commit of this process, and hands
// them in memory to every subscriber: the database sees the same queries
// however many subscribers there are.
//
// A subscription first reads history from the store at its own pace, then
// joins the live feed. Each subscriber has a bounded buffer; one that falls
// behind is dropped from the live feed (writers and other subscribers never
// wait for it), reads from the store again until it has caught up, and then
// rejoins. Nothing is skipped or repeated at either handover, because the
// store makes positions visible in commit order: everything up to a position
// the tailer has read was already visible to any later query.
package fanout

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// Store is what the feed needs of a store: its history, which subscriptions
// read on the connections clients share, and its Tail, which the tailer reads
// on connections of its own and which says when what it read is durable.
type Store interface {
	ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error)
	Head(ctx context.Context) (int64, error)
	Event(ctx context.Context, streamID uuid.UUID, version int64) (eventstore.Event, error)
	Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error)
	Tail() eventstore.LogTail
}

// Options tune a Feed. The zero value is usable.
type Options struct {
	// PollInterval is how often the tailer looks for new events (default:
	// the service's default).
	PollInterval time.Duration
	// Buffer is how many events a subscriber may fall behind the live feed
	// before it is switched to reading from the store (default 256: every
	// idle subscriber holds it, and falling back costs only reads).
	Buffer int
	// PageSize is how many events one read of the store returns (default 500).
	PageSize int
	Logger   *slog.Logger
	// Metrics records deliveries, fallbacks, polls and lag (nil: none).
	Metrics *metrics.Metrics
	// GapPatience is how long the tailer waits for a missing position below
	// a visible one before it takes the hole as permanent (default 5 s).
	GapPatience time.Duration
}

// Feed is the live feed of one process. Run must be running for
// subscriptions to go live.
type Feed struct {
	store Store
	tail  eventstore.LogTail
	opts  Options
	log   *slog.Logger
	wake  chan struct{}
	ready chan struct{} // closed once the tailer knows the head
	done  chan struct{} // closed when Run returns

	mu   sync.Mutex
	head int64 // the last position handed to the live subscribers
	subs map[*sub]struct{}

	open atomic.Int64 // subscriptions open, live or catching up

	openMu  sync.Mutex
	all     map[*subState]struct{} // every subscription past its start, for the lag metric
	dropped atomic.Int64           // times a subscriber fell behind and left the live feed

	gapSince time.Time // when the tailer first met the gap it waits on; Run's alone
	gapAt    int64     // the missing position it waits on
}

// New returns a Feed over store.
func New(store Store, opts Options) *Feed {
	if opts.PollInterval <= 0 {
		opts.PollInterval = config.Defaults().PollInterval
	}
	if opts.GapPatience <= 0 {
		opts.GapPatience = gapPatience
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 256
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Feed{
		store: store, tail: store.Tail(), opts: opts, log: opts.Logger,
		wake: make(chan struct{}, 1), ready: make(chan struct{}), done: make(chan struct{}),
		subs: make(map[*sub]struct{}), all: make(map[*subState]struct{}),
	}
	opts.Metrics.Lag(f.lag)
	return f
}

// lag is the live feed's head minus the slowest open subscription's cursor.
func (f *Feed) lag() int64 {
	f.mu.Lock()
	head := f.head
	f.mu.Unlock()
	f.openMu.Lock()
	defer f.openMu.Unlock()
	var lag int64
	for st := range f.all {
		lag = max(lag, head-st.seen.Load())
	}
	return lag
}

// item is what the tailer puts in a subscriber's buffer: an event, or
// progress (every matching event up to that position is already queued).
type item struct {
	event    *eventstore.Event
	progress int64
}

type sub struct {
	opts     eventstore.SubscribeOptions
	progress bool // reports progress to its consumer: a filtered subscription to the whole log
	ch       chan item
}

func (s *sub) matches(e *eventstore.Event) bool {
	o := &s.opts
	if o.StreamID != uuid.Nil && (e.StreamID != o.StreamID || e.Version < o.FromVersion) {
		return false
	}
	if len(o.StreamTypes) > 0 && !slices.Contains(o.StreamTypes, e.StreamType) {
		return false
	}
	return len(o.EventTypes) == 0 || slices.Contains(o.EventTypes, e.Type)
}

// Notify wakes the tailer now; call it after a commit.
func (f *Feed) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Subscribers reports how many subscriptions are open.
func (f *Feed) Subscribers() int { return int(f.open.Load()) }

// Dropped reports how often a subscriber fell behind the live feed.
func (f *Feed) Dropped() int64 { return f.dropped.Load() }

// Run tails the log until ctx ends. It starts at the current head: history
// is each subscription's own business.
func (f *Feed) Run(ctx context.Context) error {
	defer close(f.done)
	for wait := f.opts.PollInterval; ; wait = min(2*wait, 5*time.Second) {
		head, err := f.tail.Head(ctx)
		if err == nil {
			// Catch-up reads up to the head: it must be durable first.
			err = f.tail.WaitDurable(ctx, head)
		}
		if err == nil {
			f.mu.Lock()
			f.head = head
			f.mu.Unlock()
			close(f.ready)
			break
		}
		f.log.Warn("live feed: cannot read the log head; retrying", "error", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
	t := time.NewTicker(f.opts.PollInterval)
	defer t.Stop()
	failing := false
	for {
		start := time.Now()
		err := f.poll(ctx)
		if errors.Is(err, errGap) {
			// A commit is visible before an earlier one: look again at once.
			if !sleep(ctx, gapRetry) {
				return nil
			}
			continue
		}
		if err == nil {
			f.mu.Lock()
			head := f.head
			f.mu.Unlock()
			f.opts.Metrics.Polled(head, time.Since(start))
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			f.log.Warn("live feed: cannot read new events; retrying each poll", "error", err)
			failing = true
		case err == nil && failing:
			f.log.Info("live feed: reading new events again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-f.wake:
		}
	}
}

// poll reads everything after the head and dispatches it.
func (f *Feed) poll(ctx context.Context) error {
	for {
		f.mu.Lock()
		after := f.head
		f.mu.Unlock()
		page, err := f.tail.ReadAll(ctx, eventstore.ReadAllOptions{After: after, Limit: f.opts.PageSize})
		if err != nil {
			return err
		}
		var events []*eventstore.Event
		for e, err := range page.Events {
			if err != nil {
				return err
			}
			events = append(events, &e)
		}
		last, gap := f.contiguous(events, after, page.Last)
		if gap {
			events = events[:last-after] // the gapless run
		}
		// Hand out nothing a crash could take back. Catch-up reads never go
		// past the head, so only what passed here reaches any subscriber.
		if len(events) > 0 {
			if err := f.tail.WaitDurable(ctx, last); err != nil {
				return err
			}
		}
		f.dispatch(events, last)
		if gap {
			return errGap
		}
		if !page.More {
			return nil
		}
	}
}

// Positions are dense: every position up to the head holds an event, and a
// commit's events appear together. But the database may show a commit a
// moment before an earlier one (InnoDB can release the log's lock before
// the commit that held it is visible to readers), so a read can find a
// position while a lower one is still missing. Handing out the later one,
// and moving the head past the gap, would skip the earlier commit for every
// subscriber. So the tailer hands out only the gapless prefix and looks
// again; a gap that outlasts gapPatience is taken as permanent (rows removed
// by hand) and skipped with an error in the log, so the feed never stalls.
const (
	gapRetry    = 2 * time.Millisecond
	gapPatience = 5 * time.Second
)

var errGap = errors.New("a position is missing below a visible one")

// contiguous returns the last position of the gapless run of events after
// after, and whether a gap cut it short. read is the last position the read
// covered.
func (f *Feed) contiguous(events []*eventstore.Event, after, read int64) (int64, bool) {
	last := after
	for _, e := range events {
		if e.Position != last+1 {
			break
		}
		last = e.Position
	}
	if last == read {
		f.gapSince = time.Time{}
		return read, false
	}
	// Patience is per missing position: a new gap, later, starts its own.
	if f.gapSince.IsZero() || f.gapAt != last+1 {
		f.gapSince, f.gapAt = time.Now(), last+1
	}
	if time.Since(f.gapSince) < f.opts.GapPatience {
		return last, true
	}
	f.log.Error("live feed: positions missing from the log for longer than a commit takes; skipping them",
		"after", last, "up_to", read, "waited", f.opts.GapPatience)
	f.gapSince = time.Time{}
	return read, false
}

// dispatch hands events to the live subscribers without ever waiting: a
// subscriber whose buffer is full leaves the live feed.
func (f *Feed) dispatch(events []*eventstore.Event, last int64) {
	if last <= f.head {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		for s := range f.subs {
			if !s.matches(e) {
				continue
			}
			select {
			case s.ch <- item{event: e}:
			default:
				delete(f.subs, s)
				close(s.ch) // the subscriber drains what it has, then reads the store
				f.dropped.Add(1)
				f.opts.Metrics.FellBack()
			}
		}
	}
	f.head = last
	for s := range f.subs {
		select {
		case s.ch <- item{progress: last}:
		default: // progress is only a hint; the next one will do
		}
	}
}

// Subscribe opens a subscription. The channel delivers the matching events
// after opts.After (or from opts.FromVersion of opts.StreamID) in position
// order, then one CaughtUp, then live events and progress, until ctx ends or
// the feed stops; then it is closed. Store failures are retried inside, so a
// subscription outlives a database outage.
func (f *Feed) Subscribe(ctx context.Context, opts eventstore.SubscribeOptions) (<-chan eventstore.Delivery, error) {
	// A little buffer lets the consumer write a burst in one go; a consumer
	// that stops reading still stops the subscription at once.
	out := make(chan eventstore.Delivery, 16)
	f.open.Add(1)
	go func() {
		defer f.open.Add(-1)
		defer close(out)
		f.serve(ctx, opts, out)
	}()
	return out, nil
}

// serve runs one subscription: catch up, join live, and again after falling behind.
func (f *Feed) serve(ctx context.Context, opts eventstore.SubscribeOptions, out chan<- eventstore.Delivery) {
	select {
	case <-f.ready:
	case <-ctx.Done():
		return
	case <-f.done:
		return
	}
	s := &sub{opts: opts, progress: opts.StreamID == uuid.Nil && (len(opts.StreamTypes) > 0 || len(opts.EventTypes) > 0)}
	st := &subState{feed: f, sub: s, out: out, ctx: ctx, lastVersion: -1}
	var ok bool
	if st.cursor, ok = f.start(ctx, opts); !ok {
		return
	}
	st.seen.Store(st.cursor)
	f.openMu.Lock()
	f.all[st] = struct{}{}
	f.openMu.Unlock()
	defer func() {
		f.openMu.Lock()
		delete(f.all, st)
		f.openMu.Unlock()
	}()
	// History is everything committed before the subscription started: it
	// ends, with CaughtUp, once the cursor has passed the head of that moment.
	if st.target, ok = f.startingHead(ctx); !ok {
		return
	}
	f.Notify() // bring the tailer to the target now rather than at its next poll
	for {
		if !st.catchUp() {
			return
		}
		// Join the live feed only if the tailer has handed out nothing after
		// the cursor; otherwise read the difference from the store first.
		// Events at or before the cursor that the tailer still sends are skipped.
		f.mu.Lock()
		joined := f.head <= st.cursor
		if joined {
			s.ch = make(chan item, f.opts.Buffer)
			f.subs[s] = struct{}{}
		}
		f.mu.Unlock()
		if !joined {
			continue
		}
		if !st.maybeCaughtUp(0) || !st.live() {
			f.leave(s)
			return
		}
	}
}

// startingHead reads the store's head when a subscription starts (its
// history ends there), retrying until ctx ends.
func (f *Feed) startingHead(ctx context.Context) (int64, bool) {
	for wait := f.opts.PollInterval; ; wait = min(2*wait, 5*time.Second) {
		head, err := f.store.Head(ctx)
		if err == nil {
			return head, true
		}
		f.log.Warn("subscription: cannot read the log head; retrying", "error", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return 0, false
		}
	}
}

// subState is one subscription's progress.
type subState struct {
	feed        *Feed
	sub         *sub
	out         chan<- eventstore.Delivery
	ctx         context.Context
	cursor      int64        // every matching event up to here has been delivered
	seen        atomic.Int64 // cursor, for the lag metric
	target      int64        // the head when the subscription started
	lastVersion int64        // of the last event delivered, -1 for none
	caughtUp    bool
}

func (st *subState) send(d eventstore.Delivery) bool {
	select {
	case st.out <- d:
		if d.Event != nil {
			st.feed.opts.Metrics.Delivered(1)
		}
		return true
	case <-st.ctx.Done():
		return false
	}
}

// maybeCaughtUp sends CaughtUp once, when the cursor has reached the target,
// or when the next event to deliver (at next, if not 0) lies beyond it.
func (st *subState) maybeCaughtUp(next int64) bool {
	if st.caughtUp || (st.cursor < st.target && (next == 0 || next <= st.target)) {
		return true
	}
	st.caughtUp = true
	d := eventstore.Delivery{CaughtUp: true, Position: max(st.cursor, st.target), Version: st.lastVersion}
	if id := st.sub.opts.StreamID; id != uuid.Nil && st.lastVersion < 0 {
		d.Version = st.feed.streamVersion(st.ctx, id)
	}
	return st.send(d)
}

// live delivers from the subscriber's buffer until the tailer drops it for
// falling behind (then it returns true, to catch up again) or it ends.
func (st *subState) live() bool {
	s, f := st.sub, st.feed
	for {
		select {
		case it, open := <-s.ch:
			if !open {
				return true
			}
			if it.event == nil {
				if it.progress <= st.cursor {
					continue
				}
				st.cursor = it.progress
				st.seen.Store(st.cursor)
				if !st.maybeCaughtUp(0) {
					return false
				}
				if s.progress && !st.send(eventstore.Delivery{Position: st.cursor}) {
					return false
				}
				continue
			}
			e := it.event
			if e.Position <= st.cursor {
				continue // already delivered from history
			}
			if !st.maybeCaughtUp(e.Position) {
				return false
			}
			st.cursor, st.lastVersion = e.Position, e.Version
			st.seen.Store(st.cursor)
			if !st.send(eventstore.Delivery{Event: e}) || !st.maybeCaughtUp(0) {
				return false
			}
		case <-st.ctx.Done():
			return false
		case <-f.done:
			return false
		}
	}
}

// start turns the subscription's starting point into a position.
func (f *Feed) start(ctx context.Context, opts eventstore.SubscribeOptions) (int64, bool) {
	if opts.StreamID == uuid.Nil || opts.FromVersion <= 1 || opts.After > 0 {
		return opts.After, true
	}
	// Start after the event before FromVersion rather than scan the stream
	// from its start. If there is no such event yet, the stream is shorter
	// than that, and scanning it whole is cheap.
	for wait := f.opts.PollInterval; ; wait = min(2*wait, 5*time.Second) {
		e, err := f.store.Event(ctx, opts.StreamID, opts.FromVersion-1)
		switch {
		case err == nil:
			return e.Position, true
		case errors.Is(err, eventstore.ErrEventNotFound):
			return 0, true
		}
		f.log.Warn("subscription: cannot read its starting point; retrying", "error", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return 0, false
		}
	}
}

// catchUp delivers history from the store until nothing newer than the
// tailer's head remains, and moves the cursor through that head.
func (st *subState) catchUp() bool {
	f, o := st.feed, st.sub.opts
	wait := f.opts.PollInterval
	for {
		// Everything up to the tailer's head was visible, and durable, before
		// this query starts; if the query finds no more up to the head, all
		// of it has been delivered.
		f.mu.Lock()
		head := f.head
		f.mu.Unlock()
		if head <= st.cursor {
			return true
		}
		// Read no further than the head: past it, events may not be durable
		// yet, and the live feed will bring them.
		before := st.cursor
		page, err := f.store.ReadAll(st.ctx, eventstore.ReadAllOptions{After: st.cursor, UpTo: head, Limit: f.opts.PageSize,
			StreamID: o.StreamID, StreamTypes: o.StreamTypes, EventTypes: o.EventTypes})
		if err == nil {
			for e, rerr := range page.Events {
				if rerr != nil {
					err = rerr
					break
				}
				if !st.sub.matches(&e) {
					st.cursor = e.Position
					st.seen.Store(st.cursor)
					continue
				}
				if !st.maybeCaughtUp(e.Position) {
					return false
				}
				st.cursor, st.lastVersion = e.Position, e.Version
				st.seen.Store(st.cursor)
				if !st.send(eventstore.Delivery{Event: &e}) {
					return false
				}
			}
		}
		if err != nil {
			if st.ctx.Err() != nil {
				return false
			}
			f.log.Warn("subscription: cannot read history; retrying", "error", err, "retry_in", wait)
			if !sleep(st.ctx, wait) {
				return false
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = f.opts.PollInterval
		if !page.More {
			st.cursor = max(st.cursor, head)
			st.seen.Store(st.cursor)
			return true
		}
		if page.Last == before {
			// An empty page with more to come: the store is waiting for a
			// position to become visible. Look again shortly, not at once.
			if !sleep(st.ctx, gapRetry) {
				return false
			}
		}
	}
}

func (f *Feed) leave(s *sub) {
	f.mu.Lock()
	delete(f.subs, s)
	f.mu.Unlock()
}

// streamVersion is the version of a stream, 0 if it does not exist yet or
// cannot be read right now (it only decorates the caught-up message).
func (f *Feed) streamVersion(ctx context.Context, id uuid.UUID) int64 {
	st, err := f.store.Stream(ctx, id)
	if err != nil {
		return 0
	}
	return st.Version
}

// Notifying wraps a store so that each append that writes something wakes
// the feed, and this process's subscribers get the events at once.
func (f *Feed) Notifying(store eventstore.Store) eventstore.Store {
	return notifyingStore{Store: store, feed: f}
}

type notifyingStore struct {
	eventstore.Store
	feed *Feed
}

func (n notifyingStore) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	res, err := n.Store.Append(ctx, req)
	if err == nil && !res.Duplicate {
		n.feed.Notify()
	}
	return res, err
}

// sleep waits d, or less if ctx ends first; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

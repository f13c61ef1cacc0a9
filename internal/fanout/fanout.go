// Package fanout is the live feed of the log. One tailer per process reads the
// events committed after the last position it has seen, once per poll
// interval or at once when woken after a commit of this process, and puts
// them in one live buffer that every subscriber reads: the database sees the
// same queries however many subscribers there are.
//
// A subscription runs on its consumer's goroutine, but for its reads of the
// store, each on a short goroutine of its own so that its consumer never
// waits on the database (it writes keep-alives meanwhile): it first reads
// history from the store at its own pace, then reads the live buffer from
// where it stopped. The buffer holds the latest events (up to Buffer of them, and
// BufferBytes of their data) and is never held up by a reader; a subscriber
// that falls further behind than that finds its next event gone, reads from
// the store again until it has caught up, and then reads the buffer again.
// What subscriptions reading the store hold is bounded, all together, by a
// budget that each takes a place in before it reads a page (budget.go), and how many
// of them read the store at once by CatchUpReads, which leaves clients' reads part
// of the read pool. Nothing is skipped or repeated at either
// handover, because the store makes positions visible in commit order:
// everything up to a position the tailer has read was already visible to
// any later query. A log that goes back under the feed (a database restored
// or replaced while the process runs) is found at the tailer's next poll:
// the feed lets its buffer go and ends every open subscription
// (ErrLogWentBack), and its consumers start again from what they have. So
// it does when the store says the database or one of its tables is missing
// (eventstore.MissingError), or its file is damaged (eventstore.ErrDamaged),
// which no retry mends: their consumers are then answered that it is.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
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
// read on the connections clients share (at most CatchUpReads at once), and its Tail, which the tailer reads
// on connections of its own and which says when what it read is durable.
type Store interface {
	ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error)
	Head(ctx context.Context) (int64, error)
	EventPosition(ctx context.Context, streamID uuid.UUID, version int64) (int64, error)
	Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error)
	Tail() eventstore.LogTail
}

// Options tune a Feed. The zero value is usable.
type Options struct {
	// PollInterval is how often the tailer looks for new events (default:
	// the service's default).
	PollInterval time.Duration
	// Buffer is how many of the latest events the live buffer holds: how
	// far a subscriber may fall behind the tailer before it reads from the
	// store instead (default 1024). It is one buffer for all subscribers.
	Buffer int
	// BufferBytes bounds the data and metadata the live buffer holds, in
	// bytes (default DefaultBufferBytes): with large events it holds fewer
	// than Buffer of them.
	BufferBytes int64
	// PageSize is how many events one read of the store returns (default 500).
	PageSize int
	// CatchUpBytes bounds what subscriptions reading the store hold, all
	// together, in bytes (default DefaultCatchUpBytes): each reads a page
	// of at most about 1 MiB, counted with one event as large as
	// MaxEventBytes and what its consumer holds besides (catchUpReserve),
	// from before it reads until its consumer has written it; one over the
	// budget waits for its turn.
	CatchUpBytes int64
	// CatchUpReads bounds the reads of the store that subscriptions have
	// in flight at once, all together (default DefaultCatchUpReads): give
	// them a part of the read pool, and leave the rest to clients' reads of
	// pages. Others wait their turn, in order. The catch-up budget bounds
	// the memory a hundred subscriptions catching up hold, not the
	// connections: without this, they took every one of the pool, and a
	// page of 1 to 8 ms waited seconds behind them.
	CatchUpReads int
	// MaxEventBytes is the largest data and metadata an event may have
	// (default 1 MiB, TRIBUTARY_MAX_EVENT_BYTES's default). The log may
	// hold larger ones, stored under a larger bound: once the feed has read
	// one, places in the catch-up budget count the largest it has read.
	MaxEventBytes int
	Logger        *slog.Logger
	// Redact is applied to what each line the feed logs quotes of errors
	// and panics, which may hold what a client sent (a stream id, a type):
	// the HTTP layer's redaction of access tokens (nil: none).
	Redact func(string) string
	// Metrics records deliveries, fallbacks, polls and lag (nil: none).
	Metrics *metrics.Metrics
	// GapPatience is how long the tailer waits for a missing position below
	// a visible one before it takes the hole as permanent (default 5 s).
	GapPatience time.Duration
}

// DefaultBufferBytes is the live buffer's bound in bytes unless Options say
// otherwise: 64 of the largest events TRIBUTARY_MAX_EVENT_BYTES allows by
// default (1 MiB), 16 of the largest requests (TRIBUTARY_MAX_BODY_BYTES,
// 4 MiB). Events of a few KiB, the usual ones, meet the bound of Buffer
// events first; only large ones are held fewer, and a subscriber that falls
// further behind reads them from the store, as it does past Buffer events.
const DefaultBufferBytes = 64 << 20

// DefaultCatchUpReads is Options.CatchUpReads unless set: half of the
// embedded store's read pool of 8.
const DefaultCatchUpReads = 4

// eventBytes is what the live buffer counts an event as: its data and
// metadata, and its names and fixed fields.
func eventBytes(e *eventstore.Event) int64 {
	return int64(len(e.Data)+len(e.Metadata)+len(e.Type)+len(e.StreamType)) + eventOverhead
}

// eventOverhead is an event's ids, numbers and time, and the headers of its
// slices and strings.
const eventOverhead = 160

// ErrStopped is what Next returns once the feed's Run has returned.
var ErrStopped = errors.New("live feed stopped")

// ErrLogWentBack is what Next returns to a subscription that was open when
// the tailer found the log gone back under it: the database was restored
// from a backup, or replaced, while the process ran. What the subscription
// delivered may no longer be in the log, and its cursor may be past the
// head or at events that are not the ones it delivered: it ends, and its
// consumer starts again from what it has.
var ErrLogWentBack = errors.New("the log went back: the database was restored or replaced")

// Feed is the live feed of one process. Run must be running for
// subscriptions to go live.
type Feed struct {
	store Store
	tail  eventstore.LogTail
	opts  Options
	log   *slog.Logger
	wake  chan struct{}
	ready chan struct{} // closed once the tailer knows the head (or Run returned)
	done  chan struct{} // closed when Run returns

	// The live buffer: the latest events the tailer handed out, the one at
	// position p in slots[p % len(slots)]. Only the tailer writes, in this
	// order: oldest, then the slots, then head, then it closes changed.
	// Readers take no lock: a slot they read is theirs if, read after it,
	// oldest is still at or below its position (see Subscription.readLive).
	// A slot holds an event only from oldest to head: the tailer empties
	// those it moves oldest past, so that held counts all it keeps.
	slots   []atomic.Pointer[eventstore.Event]
	held    atomic.Int64                  // eventBytes of the events in the slots; written by the tailer alone
	head    atomic.Int64                  // the last position handed out
	oldest  atomic.Int64                  // the first position the buffer still holds
	changed atomic.Pointer[chan struct{}] // closed, and replaced, when head moves or Run returns

	open atomic.Int64 // subscriptions open, live or catching up

	// polled is when the tailer last read the log whole (a poll, or its
	// start's read of the head), as nanoseconds since born; 0, the feed's
	// making, until then (LastPoll). Measured from born's monotonic
	// reading: Unix nanoseconds moved with each step of the wall clock.
	polled atomic.Int64
	born   time.Time

	catchUp budget        // what subscriptions reading the store hold
	reads   chan struct{} // a token for each read of the store a subscription has in flight (CatchUpReads)
	largest atomic.Int64  // the largest event's data and metadata seen, at least MaxEventBytes (noteSize)
	turn    time.Duration // how long a place is held before it goes to those waiting (catchUpTurn)

	openMu  sync.Mutex
	all     map[*Subscription]struct{} // every subscription past its start, for the lag metric
	dropped atomic.Int64               // times a subscriber fell behind the live buffer

	gapSince time.Time // when the tailer first met the gap it waits on; Run's alone
	gapAt    int64     // the missing position it waits on
	// now is the clock that gap patience is measured on: time.Now, but in
	// tests that step it rather than wait it out.
	now     func() time.Time
	holding bool // a slot may hold an event (see release); Run's alone

	// lastID is the id of the event at head, which each poll checks
	// (checkHead) to see that the log did not go back under the feed (wentBack);
	// uuid.Nil at 0, or where rebase found no event there. Run's alone.
	lastID uuid.UUID
	// headBytes is the data and metadata of the event at head, as the
	// tailer last read it; -1 where it has not (rebase read its id alone).
	// It says how poll checks that event (smallHead). Run's alone.
	headBytes int
	// epoch counts the times the feed ended every subscription open: the
	// log went back, or the database was missing or damaged. A subscription that
	// started in an earlier one ends, with ended's error, stored before
	// epoch moves.
	epoch      atomic.Int64
	ended      atomic.Pointer[error]
	wentBackAt time.Time // when it last did; Run's alone
	// broken is the error of the tailer's last read while it says the
	// database, or one of its tables, is missing, or its file damaged
	// (unmendable); nil once a read passes (Unmendable).
	broken atomic.Pointer[error]
	// damaged is the first damage in the database file (eventstore.ErrDamaged)
	// that a subscription's read of the store met: history the tailer
	// never reads again, so no poll of its says it is mended. Kept until
	// the process stops, as the store keeps what it found (it fails its
	// readiness until the next start checks the file): Unmendable.
	damaged atomic.Pointer[error]

	// The reads of the store that subscriptions run on goroutines of their
	// own (begin), which may outlive their subscription by a moment: Run
	// ends them as it returns (stopReads ends stopping, their contexts'
	// parent too), and returns only once they have, so that the store may
	// close then, and a subscription waiting on its read learns at once that
	// the feed stopped. No read begins once Run is returning (stopped).
	readers   sync.WaitGroup
	readersMu sync.Mutex
	stopped   bool // under readersMu
	stopping  context.Context
	stopReads context.CancelFunc
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
		opts.Buffer = 1024
	}
	if opts.BufferBytes <= 0 {
		opts.BufferBytes = DefaultBufferBytes
	}
	if opts.CatchUpBytes <= 0 {
		opts.CatchUpBytes = DefaultCatchUpBytes
	}
	if opts.MaxEventBytes <= 0 {
		opts.MaxEventBytes = 1 << 20
	}
	if opts.CatchUpReads <= 0 {
		opts.CatchUpReads = DefaultCatchUpReads
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
		slots: make([]atomic.Pointer[eventstore.Event], opts.Buffer), all: make(map[*Subscription]struct{}),
		catchUp: budget{limit: opts.CatchUpBytes, base: catchUpReserve(opts.MaxEventBytes)}, turn: catchUpTurn,
		reads: make(chan struct{}, opts.CatchUpReads), now: time.Now,
	}
	f.stopping, f.stopReads = context.WithCancel(context.Background())
	f.born = time.Now()
	changed := make(chan struct{})
	f.changed.Store(&changed)
	f.largest.Store(int64(opts.MaxEventBytes))
	opts.Metrics.Lag(f.lag)
	return f
}

// lag is the live feed's head minus the slowest open subscription's cursor.
func (f *Feed) lag() int64 {
	head := f.head.Load()
	f.openMu.Lock()
	defer f.openMu.Unlock()
	var lag int64
	for s := range f.all {
		lag = max(lag, head-s.seen.Load())
	}
	return lag
}

// Unmendable returns the error with which the feed ends every
// subscription, each poll, while its tailer finds the database, or one of
// its tables, missing (eventstore.MissingError) or its file damaged (an
// error wrapping eventstore.ErrDamaged), which no retry mends, until a read
// of the tailer passes again. Once a subscription's read of history has
// met damage in the file (ErrDamaged), which the tailer does not read, it
// returns that damage from then on, until the process stops: the store
// keeps what it found so too (it is not ready until a start has checked
// the file), and nothing the feed reads tells that the file was restored.
// Otherwise nil. A consumer may refuse a subscription with it rather than
// open one that the next poll, or its read of the damaged history, ends.
func (f *Feed) Unmendable() error {
	if err := f.broken.Load(); err != nil {
		return *err
	}
	if err := f.damaged.Load(); err != nil {
		return *err
	}
	return nil
}

// Notify wakes the tailer now; call it after a commit.
func (f *Feed) Notify() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// CatchUpBytes reports the bytes that subscriptions reading the store are
// counted as holding now: at most Options.CatchUpBytes (or one reservation,
// if that is larger).
func (f *Feed) CatchUpBytes() int64 { return f.catchUp.held() }

// CatchUpWaiting reports how many subscriptions wait for a place in the
// catch-up budget: more than none once the budget is full (CatchUpBytes),
// or the first of them needs more than is free.
func (f *Feed) CatchUpWaiting() int { return f.catchUp.queued() }

// LastPoll returns when the tailer last read the log successfully (a page
// of a poll, or its start's read of the head), or when the feed was made
// while it has not yet: what subscribers are handed is at most that stale.
// A poll that fails, or hangs, leaves it where it was. It carries a
// monotonic clock reading: time.Since of it is not moved by a step of the
// wall clock.
func (f *Feed) LastPoll() time.Time { return f.born.Add(time.Duration(f.polled.Load())) }

// Subscribers reports how many subscriptions are open.
func (f *Feed) Subscribers() int { return int(f.open.Load()) }

// Dropped reports how often a subscriber fell behind the live feed.
func (f *Feed) Dropped() int64 { return f.dropped.Load() }

// Run tails the log until ctx ends. It starts at the current head: history
// is each subscription's own business.
func (f *Feed) Run(ctx context.Context) error {
	readied := false
	defer func() {
		// Wake every subscription, wherever it waits, to find the feed stopped.
		close(f.done)
		if !readied {
			close(f.ready)
		}
		f.broadcast()
		f.catchUp.wakeAll()
		f.readersMu.Lock()
		f.stopped = true
		f.readersMu.Unlock()
		f.stopReads()
		f.readers.Wait()
	}()
	// The first retry waits no longer than the later ones: the interval
	// itself, an hour where so set, left the feed unstarted that long.
	for wait := min(f.opts.PollInterval, 5*time.Second); ; wait = min(2*wait, 5*time.Second) {
		err := f.rebase(ctx)
		if err == nil {
			f.polled.Store(int64(time.Since(f.born)))
			close(f.ready)
			readied = true
			break
		}
		if ctx.Err() == nil {
			f.opts.Metrics.PollFailed() // as the polls after it are: the feed cannot start
		}
		if unmendable(err) {
			broken := fmt.Errorf("live feed: %w", err)
			f.broken.Store(&broken)
		}
		f.log.Warn("live feed: cannot read the log head; retrying", "error", f.redactError(err), "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
	t := time.NewTicker(f.opts.PollInterval)
	defer t.Stop()
	// failing: the polls fail, said once; gone: for a database missing or
	// damaged, said once too, should it follow an outage's failures (it
	// ends every subscription, each poll: the log must say why).
	failing, failingGone := false, false
	for {
		start := time.Now()
		var err error
		if f.open.Load() == 0 && f.broken.Load() == nil {
			// Nobody to hand events to: follow the head without reading
			// them. A subscription that opens meanwhile finds the buffer
			// empty below the head and reads the store up to it, as one
			// that fell behind does; the next poll fills the buffer.
			// While the database is missing or damaged, the poll reads
			// the log after the head again, to see it mended (Unmendable).
			if err = f.rebase(ctx); err == nil {
				f.release()
			}
		} else {
			err = f.poll(ctx)
		}
		if errors.Is(err, errGap) {
			// A commit is visible before an earlier one: look again at once.
			if !sleep(ctx, gapRetry) {
				return nil
			}
			continue
		}
		if err == nil {
			f.polled.Store(int64(time.Since(f.born)))
			f.opts.Metrics.Polled(f.head.Load(), time.Since(start))
		} else if ctx.Err() == nil {
			f.opts.Metrics.PollFailed()
		}
		gone := unmendable(err)
		if gone {
			// Not an outage that passes: a subscription kept open would get
			// keep-alives for as long as it lasts, and its consumer never
			// learn why. Ended, it reconnects, and is told. Each poll, for
			// those that open meanwhile.
			err := fmt.Errorf("live feed: %w", err)
			f.endAll(err)
			f.broken.Store(&err)
			f.broadcast()
		} else if err == nil {
			f.broken.Store(nil)
		}
		switch {
		case err != nil && ctx.Err() == nil && !failingGone && gone:
			f.log.Warn("live feed: the database is missing or damaged; subscriptions were ended, retrying each poll", "error", f.redactError(err))
			failing, failingGone = true, true
		case err != nil && ctx.Err() == nil && !failing:
			f.log.Warn("live feed: cannot read new events; retrying each poll", "error", f.redactError(err))
			failing = true
		case err == nil && failing:
			f.log.Info("live feed: reading new events again")
			failing, failingGone = false, false
		}
		if !f.await(ctx, t.C) {
			return nil
		}
	}
}

// await waits for the next poll: the next tick, or a wake-up while a
// subscription is open. With none open, a commit of this process need not
// move the head at once (each move is a query, and a fence where the
// commit's own flush has not been counted yet): the next tick moves it, and
// a subscription that opens wakes the tailer itself, then reads the store up
// to wherever the head is. It reports false once ctx has ended.
func (f *Feed) await(ctx context.Context, tick <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick:
			return true
		case <-f.wake:
			if f.open.Load() > 0 {
				return true
			}
		}
	}
}

// rebase moves the head to the log's, once it is durable, with the buffer
// empty: catch-up reads up to the head, so it must be durable first. The feed
// starts so, and follows the log so while no subscription is open.
func (f *Feed) rebase(ctx context.Context) error {
	head, err := f.tail.Head(ctx)
	if err != nil {
		return err
	}
	select {
	case <-f.ready:
		switch had := f.head.Load(); {
		case head == had:
			return nil // started, and nothing new
		case head < had:
			// A subscription that opens now would read history up to
			// the old head, and skip the events that take the lost
			// positions.
			return f.wentBack(ctx, had, head)
		}
	default: // starting: set the head and the empty buffer, whatever they are
	}
	if err := f.tail.WaitDurable(ctx, head); err != nil {
		return err
	}
	id, err := f.eventAt(ctx, head)
	if err != nil {
		return err
	}
	f.oldest.Store(head + 1) // before head: see dispatch
	f.head.Store(head)
	f.lastID, f.headBytes = id, -1
	f.gapSince = time.Time{}
	f.broadcast()
	return nil
}

// eventAt returns the id of the event at position, which rebase moves the
// head to: the next poll checks that it is still there. Without it, that
// poll took whatever it found at the head for the event followed, and a
// restore meanwhile (after a time with no subscription open, or at start)
// went unnoticed. uuid.Nil for position 0, or for an event not there (a row
// removed by hand: poll's headGone tells). It reads the id alone
// (LogTail.IDAt): read whole, an event of 1 MiB cost a MiB at each move.
func (f *Feed) eventAt(ctx context.Context, position int64) (uuid.UUID, error) {
	if position == 0 {
		return uuid.Nil, nil
	}
	return f.tail.IDAt(ctx, position)
}

// wentBack handles a log that went back under the feed: the head is below
// had, the last position handed out, or the event there is not the one
// handed out. The database was restored from a backup, or replaced, while
// the process ran. The feed says so, lets its buffer go (it holds events
// the log may no longer hold), ends every subscription open (ErrLogWentBack:
// their cursors may be past the head, or their events gone) and starts
// again from head, the log's. A consumer that reconnects from what it has
// is then answered from the log as it is now.
func (f *Feed) wentBack(ctx context.Context, had, head int64) error {
	// What the store knew durable may be other commits now: the new head
	// among them, which the wait below makes sure of.
	f.tail.WentBack()
	if err := f.tail.WaitDurable(ctx, head); err != nil {
		return err
	}
	what := fmt.Sprintf("from %d to %d", had, head)
	if head >= had {
		what = fmt.Sprintf("to %d: position %d no longer holds the event handed out", head, had)
	}
	// Not a head set back under events the log still holds: Head fails
	// then (eventstore.ErrHeadBehind), and Run says the damage with the
	// store's error; every caller has read the head without it.
	//
	// A restore that the feed meets half done (the events table loaded,
	// log_head not yet) goes back twice: the second is no news.
	level := slog.LevelError
	if !f.wentBackAt.IsZero() && time.Since(f.wentBackAt) < time.Minute {
		level = slog.LevelWarn
	}
	f.wentBackAt = time.Now()
	f.log.Log(ctx, level, "live feed: the log went back "+what+": the database was restored or replaced while this instance ran; subscriptions were ended",
		"handed_out", had, "head", head)
	// A reader checks oldest, then epoch, after it reads a slot
	// (readLive): with oldest past every position while the slots are
	// emptied, and epoch moved before oldest comes back, none delivers an
	// event it read from the slots before.
	f.oldest.Store(math.MaxInt64)
	for i := range f.slots {
		f.slots[i].Store(nil)
	}
	f.held.Store(0)
	f.holding = false
	f.head.Store(head)
	f.lastID, f.headBytes = uuid.Nil, -1
	f.gapSince = time.Time{}
	// After head: a subscription that starts in the new epoch reads history
	// up to the new head.
	f.endAll(ErrLogWentBack)
	f.oldest.Store(head + 1)
	f.broadcast()
	return nil
}

// endAll ends every subscription open: Next returns err to it.
func (f *Feed) endAll(err error) {
	f.ended.Store(&err)
	f.epoch.Add(1)
}

// unmendable reports whether err says what no retry mends until an operator
// restores the database: it, or one of its tables, is missing (dropped, or a
// restore begun in its place), or its file is damaged (the embedded store's
// eventstore.ErrDamaged: an event the tailer or a subscription reads again
// at each try), or, until an operator restarts the server, overwritten
// while it ran (eventstore.ErrOverwritten) or its WAL removed
// (eventstore.ErrRestartNeeded).
func unmendable(err error) bool {
	var m *eventstore.MissingError
	return errors.As(err, &m) || errors.Is(err, eventstore.ErrDamaged) ||
		errors.Is(err, eventstore.ErrOverwritten) || errors.Is(err, eventstore.ErrRestartNeeded)
}

// headMoved is poll's answer to an event at the head that is not the one
// handed out, or is gone: the log went back, to the head it has now.
func (f *Feed) headMoved(ctx context.Context, had int64) error {
	head, err := f.tail.Head(ctx)
	if err != nil {
		return err
	}
	return f.wentBack(ctx, had, head)
}

// checkHead checks that the event at had, the head, is still the one
// handed out there (lastID), by its id alone (LogTail.IDAt), and reports
// whether the log went back, which it has then handled (wentBack). Where
// the head's event was never read (rebase found none there), the one there
// now is taken for it, and none there is headGone's to tell.
func (f *Feed) checkHead(ctx context.Context, had int64) (bool, error) {
	if had == 0 {
		return false, nil
	}
	id, err := f.tail.IDAt(ctx, had)
	switch {
	case err != nil:
		return false, err
	case f.lastID == uuid.Nil && id != uuid.Nil:
		f.lastID = id
		return false, nil
	case f.lastID == uuid.Nil:
		// Never read, and not there: a row removed by hand, or a log
		// that went back and grew past it.
		return f.headGone(ctx, had)
	case id != f.lastID:
		return true, f.headMoved(ctx, had)
	}
	return false, nil
}

// headGone is poll's answer to no event at had, the head, whose event the
// tailer has not read (rebase moved it there): if the log's head is below
// it, the log went back, and headGone reports true; if not, a row was
// removed by hand, and the poll carries on.
func (f *Feed) headGone(ctx context.Context, had int64) (bool, error) {
	head, err := f.tail.Head(ctx)
	if err != nil || head >= had {
		return false, err
	}
	return true, f.wentBack(ctx, had, head)
}

// release empties the live buffer, once no subscription is open to read it:
// it would keep its events (up to Buffer of them, each as large as an event
// may be) for good. A subscription that opens later finds the buffer empty
// below the head and reads the store, as after rebase.
func (f *Feed) release() {
	if !f.holding {
		return
	}
	f.holding = false
	f.oldest.Store(f.head.Load() + 1) // before the slots: see dispatch
	for i := range f.slots {
		f.slots[i].Store(nil)
	}
	f.held.Store(0)
}

// BufferedBytes reports how many bytes of events the live buffer holds, as
// eventBytes counts them: at most Options.BufferBytes.
func (f *Feed) BufferedBytes() int64 { return f.held.Load() }

// poll reads everything after the head and dispatches it.
//
// It checks in each read that the event at the head is still the one
// handed out: if it is not, or is gone, the log went back under the feed
// (wentBack), and nothing of the page is handed out. While that event is
// small (smallHead), the read begins at it, and the check is the same
// query (headRead); once it is large, or after a read that held it alone,
// the read begins after it and the check reads its id alone after the
// read (checkHead). Checked after the read, not before: a log that went
// back and grew past the head between a check and the read would be taken
// for the one handed out.
func (f *Feed) poll(ctx context.Context) error {
	alone := false // the last page held the head's event alone, and more follow
	for {
		after := f.head.Load()
		// -1, not read yet: read it once, and know. After a page of it
		// alone, read on past it: read from it again, it was the same
		// page for ever, and the feed handed out nothing more.
		withHead := after > 0 && f.headBytes < smallHead && !alone
		from, limit := after, f.opts.PageSize
		if withHead {
			from, limit = after-1, limit+1
		}
		page, err := f.tail.ReadAll(ctx, eventstore.ReadAllOptions{After: from, Limit: limit})
		if err != nil {
			return err
		}
		// A page of large events is read only as far as the live buffer
		// could hold: it would drop the rest, and the page is held in
		// memory until it is dispatched. The rest is the next read.
		var events []*eventstore.Event
		var size int64
		read, more := max(page.Last, after), page.More
		checked := !withHead // the event at the head is still the one handed out
		for e, err := range page.Events {
			if err != nil {
				return err
			}
			if !checked {
				checked = true
				if wentBack, err := f.headRead(ctx, after, &e); wentBack || err != nil {
					return err
				}
				if e.Position == after {
					continue
				}
			}
			events = append(events, &e)
			f.noteSize(&e)
			if size += eventBytes(&e); size >= f.opts.BufferBytes {
				read, more = e.Position, true
				break
			}
		}
		if !checked {
			// Nothing at the head, nor after it.
			if wentBack, err := f.headRead(ctx, after, nil); wentBack || err != nil {
				return err
			}
		}
		if !withHead {
			if wentBack, err := f.checkHead(ctx, after); wentBack || err != nil {
				return err
			}
		}
		last, gap, err := f.contiguous(ctx, events, after, read)
		if err != nil {
			return err
		}
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
		// Each page read and handed out is a good read of the log: a poll
		// reading a long backlog page after page is not a stalled feed
		// (LastPoll, /readyz's live_feed, and the last poll's gauge).
		f.polled.Store(int64(time.Since(f.born)))
		f.opts.Metrics.PageRead()
		if len(events) > 0 {
			e := events[len(events)-1] // the event at last
			f.lastID, f.headBytes = e.ID, len(e.Data)+len(e.Metadata)
		}
		if gap {
			return errGap
		}
		if !more {
			return nil
		}
		alone = withHead && len(events) == 0
	}
}

// smallHead bounds the event at the head that poll reads again with each
// page, to check that it is still the one handed out, in the same query:
// a few KiB more read cost less than a second statement a poll (an idle
// feed polls ten times a second), and a head of a few KiB is the usual
// one. A larger one is checked by its id alone (checkHead): read whole, an
// event of 1 MiB cost a MiB a poll.
const smallHead = 4 << 10

// headRead checks e, the first event of a page read from the head's
// position had, against the one handed out there (lastID), and reports
// whether the log went back, which it has then handled: e is another
// event at had, or none is there (e nil, or past had) while one was
// handed out. Where the head's event was never read (rebase found none
// there), the one there now is taken for it, and none there is headGone's
// to tell. It notes the size of the event at had (smallHead).
func (f *Feed) headRead(ctx context.Context, had int64, e *eventstore.Event) (bool, error) {
	switch {
	case e != nil && e.Position == had && (f.lastID == uuid.Nil || e.ID == f.lastID):
		f.lastID, f.headBytes = e.ID, len(e.Data)+len(e.Metadata)
		return false, nil
	case e != nil && e.Position == had, f.lastID != uuid.Nil:
		return true, f.headMoved(ctx, had)
	}
	// Never read, and not there: a row removed by hand, or a log that
	// went back and grew past it.
	return f.headGone(ctx, had)
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
// covered. A gap that outlasts patience is skipped only where the tail's
// MissingFromLog says it holds no event; where it errs, so does contiguous,
// and the gap stays.
func (f *Feed) contiguous(ctx context.Context, events []*eventstore.Event, after, read int64) (int64, bool, error) {
	last := after
	for _, e := range events {
		if e.Position != last+1 {
			break
		}
		last = e.Position
	}
	if last == read {
		f.gapSince = time.Time{}
		return read, false, nil
	}
	// Patience is per missing position: a new gap, later, starts its own.
	if f.gapSince.IsZero() || f.gapAt != last+1 {
		f.gapSince, f.gapAt = f.now(), last+1
	}
	if f.now().Sub(f.gapSince) < f.opts.GapPatience {
		return last, true, nil
	}
	// Only a store with a read replica has holes that are not rows removed
	// by hand: its tail errs for them.
	if err := f.tail.MissingFromLog(ctx, last+1); err != nil {
		return last, true, fmt.Errorf("position %d is missing from the log below %d: %w", last+1, read, err)
	}
	f.log.Error("live feed: positions missing from the log for longer than a commit takes; skipping them",
		"after", last, "up_to", read, "waited", f.opts.GapPatience)
	f.gapSince = time.Time{}
	return read, false, nil
}

// dispatch puts events in the live buffer and wakes the subscribers. It
// never waits for one: a subscriber too slow for the buffer finds what it
// has not read yet overwritten, and reads it from the store.
//
// The buffer keeps the latest events that fit in both bounds, Buffer
// positions and BufferBytes: those before them are let go, oldest first, and
// oldest moves past them, so a subscriber that has not read them reads them
// from the store, as when they are overwritten.
func (f *Feed) dispatch(events []*eventstore.Event, last int64) {
	head := f.head.Load()
	if last <= head {
		return
	}
	n, limit := int64(len(f.slots)), f.opts.BufferBytes
	// The new events that fit, latest first.
	keep, add := len(events), int64(0)
	for keep > 0 {
		e := events[keep-1]
		if last-e.Position >= n || add+eventBytes(e) > limit {
			break
		}
		add += eventBytes(e)
		keep--
	}
	from := f.oldest.Load()
	o := max(from, last-n+1)
	if keep > 0 {
		o = max(o, events[keep-1].Position+1) // past the new events that do not fit
	}
	// The held events up to o go, and then more until the new ones fit.
	held := f.held.Load()
	for p := from; p <= head && (p < o || held+add > limit); p++ {
		if e := f.slots[p%n].Load(); e != nil && e.Position == p {
			held -= eventBytes(e)
		}
		o = max(o, p+1)
	}
	// Readers check oldest after reading a slot, so it moves first.
	if o > from {
		f.oldest.Store(o)
	}
	for p := from; p < min(o, head+1); p++ {
		if e := f.slots[p%n].Load(); e != nil && e.Position == p {
			f.slots[p%n].Store(nil)
		}
	}
	for _, e := range events[keep:] {
		f.slots[e.Position%n].Store(e)
	}
	f.held.Store(held + add)
	f.holding = f.holding || keep < len(events)
	f.head.Store(last)
	f.broadcast()
}

// broadcast wakes every subscription waiting on Ready.
func (f *Feed) broadcast() {
	next := make(chan struct{})
	close(*f.changed.Swap(&next))
}

// closed is a channel that is always ready: Ready returns it when Next has
// more to do at once.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Subscription is one open subscription. It has no goroutine of its own but
// while it reads the store: its consumer calls Next, which hands over what is
// ready, and waits on Ready before it calls again. Its methods, Close among
// them, are for one goroutine at a time.
type Subscription struct {
	feed     *Feed
	opts     eventstore.SubscribeOptions
	progress bool // reports progress: a filtered subscription to the whole log
	started  bool // cursor and target are known
	live     bool // read the live buffer last time, for counting fallbacks
	// declined: its consumer declined an event of the live buffer, which
	// it reads from the store, with what follows, up to the head.
	declined bool
	caughtUp bool
	ended    bool
	epoch    int64 // the feed's when it started: see Feed.endAll

	cursor      int64        // every matching event up to here has been delivered
	seen        atomic.Int64 // cursor, for the lag metric
	target      int64        // the head when the subscription started
	reported    int64        // the last position its consumer was told: its start, an event's, a caught-up's or a progress report's
	lastVersion int64        // of the last event delivered, -1 for none

	wait    <-chan struct{} // what Ready returns
	retryIn time.Duration   // the wait after the next failed read of the store
	retryAt time.Time       // after a failed read: when to try again

	// res is its claim on the feed's catch-up budget, waiting or granted;
	// read says a page was read under it (its consumer may still be
	// writing it until the next call). room is what the place has, or the
	// next one asks for, beyond a page, for its consumer's copies (Room).
	res  *reservation
	read bool
	room int64
	// served is what it has read from the store since its catch-up began:
	// its order in the budget's queue (budget.take).
	served    int64
	roomAsked bool // room is what the next place asks for: its page stopped for it
	// pageLimit, if not 0, is how many events its next page of history
	// holds at most (fewer than Options.PageSize): what its consumer wrote
	// in its last turn cut short, twice as many after each page written
	// whole. The rest of a page cut short is thrown away and read again,
	// and a page of 500 for a consumer that writes a few in a turn read
	// each event dozens of times.
	pageLimit int

	// inFlight is a read of the store (its start, or a page of history)
	// running on a goroutine of its own: Next never waits on the database,
	// so that its consumer goes on writing keep-alives while it does (a
	// table locked, a slow query, a full read pool, a turn of the catch-up
	// reads). Ready waits for it; the Next after it delivers what it read.
	inFlight *storeRead
	// startVersion is a stream subscription's version before FromVersion,
	// as read at its start, for a caught-up with nothing delivered.
	startVersion int64
}

// storeRead is one read of the store that a subscription runs on a
// goroutine of its own: its start (cursor, target, version), or a page of
// history up to head. What it read is written before done closes and read
// after. It holds a connection only for its statements (takeRead), never
// while its consumer writes.
type storeRead struct {
	done   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	start  bool
	epoch  int64 // a start: the feed's before anything was read

	head   int64        // a page: the position it reads up to
	after  int64        // a page: the cursor it reads from
	limit  int          // a page: its subscription's pageLimit
	res    *reservation // a page: the place it is read under, and the room it has
	room   int64
	events []eventstore.Event
	more   bool

	cursor, target, version int64 // a start's

	err error
	// panicked is what the read panicked with: Next raises it again on its
	// consumer's goroutine. Off it, a panic ended the process.
	panicked *readPanic
	// state is readRunning until the first of the read's end (readEnded)
	// and its subscription's Close (readLeft): a read that its subscription
	// left gives its place back as it ends, not before (it holds what it
	// read until it sees its context end), and its panic, which no Next
	// raises again, is logged.
	state atomic.Int32
}

const (
	readRunning = iota
	readEnded
	readLeft
)

// readPanic is a panic of a read of the store, recovered on the read's own
// goroutine (begin) and raised again by Next on its consumer's, where the
// consumer recovers it as it did when the read ran there (the HTTP layer
// cuts that response alone, and logs it). It keeps the read's stack.
type readPanic struct {
	value any
	stack []byte
}

func (p *readPanic) Error() string {
	return fmt.Sprintf("%v (in a read of the store, on its own goroutine:\n%s)", p.value, p.stack)
}

// Unwrap returns what the read panicked with, if it is an error.
func (p *readPanic) Unwrap() error {
	err, _ := p.value.(error)
	return err
}

var _ eventstore.Subscription = (*Subscription)(nil)

// Subscribe opens a subscription. Next delivers the matching events after
// opts.After (or from opts.FromVersion of opts.StreamID) in position order,
// then one CaughtUp, then live events and progress, until the feed stops.
// Store failures are retried inside, so a subscription outlives a database
// outage, but not a missing or damaged database (see Next). Close it when done. It
// returns the interface its consumers use, which this package's
// Subscription is the one implementation of.
func (f *Feed) Subscribe(opts eventstore.SubscribeOptions) eventstore.Subscription {
	f.open.Add(1)
	return &Subscription{feed: f, opts: opts, lastVersion: -1, wait: closed, reported: opts.After,
		progress: opts.StreamID == uuid.Nil && (len(opts.StreamTypes) > 0 || len(opts.EventTypes) > 0)}
}

// Ready returns a channel that is closed once Next may have something to
// deliver: the tailer handed out more, a retry is due, or the feed stopped.
func (s *Subscription) Ready() <-chan struct{} { return s.wait }

// Close ends the subscription.
func (s *Subscription) Close() {
	if s.ended {
		return
	}
	s.ended = true
	if r := s.inFlight; r != nil {
		r.cancel() // what it reads now is not delivered
		s.inFlight = nil
		switch {
		case r.state.Swap(readLeft) == readRunning:
			if r.res != nil && r.res == s.res {
				s.res, s.read = nil, false // the read gives it back as it ends
			}
		case r.panicked != nil:
			s.feed.logPanic(r.panicked)
		}
	}
	s.giveBack()
	s.feed.open.Add(-1)
	s.feed.openMu.Lock()
	delete(s.feed.all, s)
	s.feed.openMu.Unlock()
}

// Next calls emit with what the subscription has ready now, in order: a page
// of history, or everything the live buffer holds after the cursor. It never
// waits, neither for the tailer nor for the store: it begins a read of the
// store on a goroutine of its own (under ctx, and ended by Close) and
// returns, and the Next after it delivers what it read. With nothing to
// deliver it returns nil, and Ready says when to call again. It returns emit's error, or
// ctx's, or ErrStopped once the feed has stopped, or ErrLogWentBack, or the
// store's eventstore.MissingError once the database, or one of its tables,
// is missing, or its error wrapping eventstore.ErrDamaged once a read meets
// damage in the database file.
func (s *Subscription) Next(ctx context.Context, emit func(eventstore.Delivery) error) error {
	f := s.feed
	if s.read && s.inFlight == nil {
		s.giveBack() // its consumer has written the page
	}
	select {
	case <-f.done:
		return ErrStopped
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.endedBy(); err != nil {
		return err
	}
	if r := s.inFlight; r != nil {
		select {
		case <-r.done:
		default:
			s.wait = r.done
			return nil
		}
		s.inFlight = nil
		if r.panicked != nil {
			r.cancel()
			panic(r.panicked)
		}
		// Begun under a context of its consumer's that has ended since (a
		// consumer may call with another): what it could not read is read
		// again, not taken for a failure of the store.
		stale := r.err != nil && r.ctx.Err() != nil && ctx.Err() == nil && !errors.Is(r.err, ErrStopped)
		r.cancel()
		switch {
		case stale:
			s.wait = closed
			return nil
		case !r.start:
			return s.readStore(ctx, emit, r)
		case errors.Is(r.err, ErrStopped):
			return r.err
		case r.err != nil:
			return s.failed(ctx, "subscription: cannot read its starting point; retrying", r.err)
		}
		s.begun(r)
		if err := s.endedBy(); err != nil {
			// The log went back while it read its start: its cursor and
			// target may be the old log's, and a caught-up at them a lie.
			return err
		}
	}
	if !s.retryAt.IsZero() {
		// A read failed: wait out the back-off, without a place (given
		// back above, once its consumer had written what came before).
		if d := time.Until(s.retryAt); d > 0 {
			s.after(d)
			return nil
		}
		s.retryAt = time.Time{}
	}
	if !s.started {
		select {
		case <-f.ready:
		default:
			s.wait = f.ready
			return nil
		}
		// Before anything it reads: a log that goes back from here on ends it.
		s.begin(ctx, &storeRead{start: true, epoch: f.epoch.Load()}, s.start)
		return nil
	}
	head, ok, err := f.head.Load(), false, error(nil)
	if !s.declined {
		head, ok, err = s.fromBuffer(ctx, emit)
	}
	if ok || err != nil {
		s.giveBack() // it waited its turn, but the buffer has what it needs
		return err
	}
	if err := s.endedBy(); err != nil {
		return err // while it read the buffer: not the store, for a cursor of the old log
	}
	if s.live {
		// It fell behind the buffer: read the store until it catches up.
		s.live = false
		f.dropped.Add(1)
		f.opts.Metrics.FellBack()
	}
	if !s.reserve() {
		return nil // Ready says when its turn comes
	}
	s.begin(ctx, &storeRead{head: head, after: s.cursor, limit: s.pageLimit, res: s.res, room: s.room}, s.readPage)
	return nil
}

// begin runs read on a goroutine of its own, under a context that ends with
// ctx, when the subscription closes or when the feed stops, and has Ready
// wait for it. Once the feed has stopped, it reads nothing: ErrStopped.
func (s *Subscription) begin(ctx context.Context, r *storeRead, read func(context.Context, *storeRead)) {
	f := s.feed
	r.done = make(chan struct{})
	r.ctx, r.cancel = context.WithCancel(ctx)
	s.inFlight, s.wait = r, r.done
	f.readersMu.Lock()
	if f.stopped {
		f.readersMu.Unlock()
		r.err = ErrStopped
		close(r.done)
		return
	}
	f.readers.Add(1) // before Run's Wait: stopped is not set yet
	f.readersMu.Unlock()
	stop := context.AfterFunc(f.stopping, r.cancel)
	go func() {
		defer f.readers.Done()
		defer stop()
		defer close(r.done)
		defer func() {
			if rec := recover(); rec != nil {
				r.panicked = &readPanic{value: rec, stack: debug.Stack()}
			}
			if r.state.Swap(readEnded) != readLeft {
				return // Next takes it in
			}
			// Its subscription closed while it read.
			if r.panicked != nil {
				f.logPanic(r.panicked)
			}
			if r.res != nil {
				f.catchUp.give(r.res)
			}
		}()
		read(r.ctx, r)
	}()
}

// logPanic logs the panic of a read of the store whose subscription closed
// before it ended.
func (f *Feed) logPanic(p *readPanic) {
	f.log.Error("subscription: a read of the store panicked after its subscription closed",
		"panic", f.redact(fmt.Sprint(p.value)), "stack", f.redact(string(p.stack)))
}

// redact is s as the feed logs it: through Options.Redact, which takes out
// what a client may have sent in it (a token where a stream id goes).
func (f *Feed) redact(s string) string {
	if f.opts.Redact == nil {
		return s
	}
	return f.opts.Redact(s)
}

// redactError is err's text as the feed logs it (redact).
func (f *Feed) redactError(err error) string { return f.redact(err.Error()) }

// reserve takes the subscription's place in the catch-up budget for a page,
// and reports whether it has it; if not, Ready waits for its turn.
func (s *Subscription) reserve() bool {
	b := &s.feed.catchUp
	if s.res == nil {
		s.res = b.take(s.room, s.served)
	}
	if !b.isGranted(s.res) {
		s.wait = s.res.ready
		return false
	}
	s.read = true
	return true
}

// giveBack gives the subscription's place in the catch-up budget back, or
// leaves the queue.
func (s *Subscription) giveBack() {
	if s.res != nil {
		s.feed.catchUp.give(s.res)
		s.res, s.read = nil, false
		if s.room > 0 && !s.roomAsked {
			s.room = 0 // the page that needed it is written
		}
		s.roomAsked = false
	}
}

// NextLive is Next for a subscription that reads the live buffer: it
// delivers what the buffer holds after the cursor and reports true, or
// reports false once Next must be called instead (to read the store, which
// NextLive never does, or to report that the feed stopped). It costs only
// CPU: a consumer may call it where it must not wait on the database.
func (s *Subscription) NextLive(ctx context.Context, emit func(eventstore.Delivery) error) (bool, error) {
	if !s.live || !s.caughtUp || s.declined || s.inFlight != nil || ctx.Err() != nil || s.endedBy() != nil {
		return false, nil
	}
	if s.read {
		s.giveBack()
	}
	select {
	case <-s.feed.done:
		return false, nil
	default:
	}
	_, ok, err := s.fromBuffer(ctx, emit)
	return ok, err
}

// endedBy returns why the feed ended every subscription open since this
// one started (ErrLogWentBack, or a missing or damaged database), or nil: Next ends it
// with that error.
func (s *Subscription) endedBy() error {
	if !s.started || s.epoch == s.feed.epoch.Load() {
		return nil
	}
	return *s.feed.ended.Load()
}

// fromBuffer delivers what the live buffer holds after the cursor, and
// reports true, or false if the buffer no longer holds the next event: the
// store must be read up to head then.
func (s *Subscription) fromBuffer(ctx context.Context, emit func(eventstore.Delivery) error) (head int64, ok bool, err error) {
	f := s.feed
	changed := *f.changed.Load() // before head: a later move closes it
	head = f.head.Load()
	if s.cursor+1 <= head && s.cursor+1 < f.oldest.Load() {
		return head, false, nil
	}
	if s.cursor < head {
		if ok, err := s.readLive(ctx, emit, head); !ok || err != nil {
			return head, false, err
		}
	}
	s.live, s.wait = true, changed
	return head, true, s.maybeCaughtUp(ctx, emit, nil)
}

// start turns the subscription's starting point into a position, and reads
// the store's head: history ends there. For a stream from a version, it
// also reads the stream's version before it, which a caught-up with nothing
// delivered says. It runs on a goroutine of its own (begin): begun takes
// what it read in.
func (s *Subscription) start(ctx context.Context, r *storeRead) {
	f, o := s.feed, s.opts
	if r.err = f.takeRead(ctx); r.err != nil {
		return
	}
	defer f.endRead()
	r.cursor = o.After
	from := max(o.FromVersion, 1)
	r.version = from - 1
	found := false // the event before FromVersion is there: the stream is at it or past it
	if o.StreamID != uuid.Nil && from > 1 && o.After <= 0 {
		// Start after the event before FromVersion rather than scan the
		// stream from its start. If there is no such event yet, the stream
		// is shorter than that, and scanning it whole is cheap. Its
		// position alone: read whole, an event of 1 MiB cost a MiB a start.
		position, err := f.store.EventPosition(ctx, o.StreamID, from-1)
		switch {
		case err == nil:
			r.cursor, found = position, true
		case errors.Is(err, eventstore.ErrEventNotFound):
			r.cursor = 0
		default:
			r.err = err
			return
		}
	}
	if r.target, r.err = f.store.Head(ctx); r.err != nil {
		return
	}
	if o.StreamID != uuid.Nil && from > 1 && !found {
		// After the head: at least the stream's version there. It only
		// decorates the caught-up message: 0 if it cannot be read now.
		st, err := f.store.Stream(ctx, o.StreamID)
		r.version = 0
		if err == nil {
			r.version = min(st.Version, from-1)
		}
	}
}

// begun takes in what start read.
func (s *Subscription) begun(r *storeRead) {
	f := s.feed
	s.cursor, s.target, s.started, s.epoch, s.startVersion = r.cursor, r.target, true, r.epoch, r.version
	s.seen.Store(s.cursor)
	f.openMu.Lock()
	f.all[s] = struct{}{}
	f.openMu.Unlock()
	f.Notify() // bring the tailer to the target now rather than at its next poll
}

// failed logs a failed read of the store and has the next try wait, longer
// after each failure in a row; or, for a missing or damaged database (unmendable), returns err,
// which ends the subscription. Ready is ready at once: the next call gives
// the subscription's place in the catch-up budget back, once its consumer
// has written what the page delivered before it failed, and only then waits
// (Next). Holding the place through the back-off (up to 5 s) kept every
// other subscription from reading, for nothing.
func (s *Subscription) failed(ctx context.Context, msg string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f := s.feed
	if unmendable(err) {
		switch {
		case errors.Is(err, eventstore.ErrHeadBehind):
			// A head behind its events is the log's, which the tailer
			// reads at each poll and sees mended (a statement mends it):
			// told as the tailer's own finding, until its next read.
			f.broken.Store(&err)
		case errors.Is(err, eventstore.ErrDamaged):
			// Those that open next would read it again: they are told
			// before they do (Unmendable).
			f.damaged.CompareAndSwap(nil, &err)
		}
		return err // no retry mends it: ended, its consumer is told
	}
	s.retryIn = min(max(2*s.retryIn, f.opts.PollInterval), 5*time.Second)
	f.log.Warn(msg, "error", f.redactError(err), "retry_in", s.retryIn)
	s.retryAt = time.Now().Add(s.retryIn)
	s.wait = closed
	return nil
}

// after has Ready wait d.
func (s *Subscription) after(d time.Duration) {
	c := make(chan struct{})
	time.AfterFunc(d, func() { close(c) })
	s.wait = c
}

func (s *Subscription) matches(e *eventstore.Event) bool {
	o := &s.opts
	if o.StreamID != uuid.Nil && (e.StreamID != o.StreamID || e.Version < o.FromVersion) {
		return false
	}
	if len(o.StreamTypes) > 0 && !slices.Contains(o.StreamTypes, e.StreamType) {
		return false
	}
	return len(o.EventTypes) == 0 || slices.Contains(o.EventTypes, e.Type)
}

func (s *Subscription) advance(p int64) {
	s.cursor = p
	s.seen.Store(p)
}

// deliver hands over one event. If emit declines it (declined), the
// cursor stays before it and deliver reports errDeclined.
func (s *Subscription) deliver(ctx context.Context, emit func(eventstore.Delivery) error, e *eventstore.Event) error {
	if err := s.maybeCaughtUp(ctx, emit, e); err != nil {
		return err
	}
	if err := emit(eventstore.Delivery{Event: e}); err != nil {
		if declined(err) {
			return errDeclined
		}
		return err
	}
	s.lastVersion = e.Version
	s.advance(e.Position)
	s.reported = e.Position // the event's id tells its position: no progress at it
	return nil
}

// A consumer may decline an event of the live buffer that it cannot take
// now without holding more than its share of memory (the HTTP layer: a live
// write to a slow client that would keep one more large frame alive), by
// returning from emit an error with a method FromStore() bool that reports
// true. The subscription then reads that event, and those after it, from the
// store, as one that fell behind the buffer does: in its turn, under its
// place in the catch-up budget (Place). Events read from the store may not
// be declined so (see Room instead): that error ends the subscription.
func declined(err error) bool {
	var d interface{ FromStore() bool }
	return errors.As(err, &d) && d.FromStore()
}

// errDeclined is deliver's report that emit declined an event of the live
// buffer.
var errDeclined = errors.New("the consumer declined an event of the live buffer")

// Place reports whether the events that Next is delivering, or delivered in
// its last call, were read from the store under the subscription's place in
// the catch-up budget, and how many bytes of its consumer's copies of a
// large event (beyond a frame of a few tens of KiB: catchUpConsumerBytes)
// that place has room for. The place counts what it read, and those copies,
// until Next is called again. Events of the live buffer (NextLive's, and
// Next's when it does not read the store) are not counted there: they are
// shared by every subscriber.
func (s *Subscription) Place() (held bool, room int64) {
	if !s.read {
		return false, 0
	}
	return true, s.room
}

// Contended reports whether other subscriptions wait for a place in the
// catch-up budget. Unlike the other methods, it may be called from any
// goroutine: a consumer that watches a long write of what it read under its
// place (Place) asks it there. A page ends after a turn with others waiting,
// but only between events: one large event written to a client that takes
// a few bytes at a time holds the place for as long as the write lasts,
// unless its consumer stops giving it time (the HTTP layer cuts it after
// its stall timeout then).
func (s *Subscription) Contended() bool { return s.feed.catchUp.waiting() }

// A consumer that must copy an event read from the store to write it, and
// more than its place has room for (Place), may decline it by returning from
// emit an error with a method Room() int64 that reports the bytes it needs.
// The page stops before that event, and the subscription reads it again
// under a place with that room, once its turn comes.
func roomAsked(err error) int64 {
	var r interface{ Room() int64 }
	if errors.As(err, &r) {
		return r.Room()
	}
	return 0
}

// maybeCaughtUp delivers CaughtUp once, when the cursor has reached the
// target, or when the next event to deliver (next, if not nil) lies beyond it.
func (s *Subscription) maybeCaughtUp(ctx context.Context, emit func(eventstore.Delivery) error, next *eventstore.Event) error {
	if s.caughtUp || (s.cursor < s.target && (next == nil || next.Position <= s.target)) {
		return nil
	}
	s.caughtUp = true
	d := eventstore.Delivery{CaughtUp: true, Position: max(s.cursor, s.target), Version: s.lastVersion}
	if id := s.opts.StreamID; id != uuid.Nil && s.lastVersion < 0 {
		// Nothing delivered yet: the version is the stream's at the cursor,
		// which its version now may have passed with events still to come
		// (next among them). Every version from FromVersion on up to the
		// cursor would have been delivered, so none is there.
		if next != nil {
			d.Version = next.Version - 1
		} else {
			d.Version = s.startVersion // read at its start, never here: Next does not wait on the store
		}
	}
	if err := emit(d); err != nil {
		return err
	}
	// The caught-up tells its position (as Last-Event-ID's progress): the
	// live read that caught it up reports no progress at it.
	s.reported = max(s.reported, d.Position)
	return nil
}

// readLive delivers the matching events after the cursor up to head from
// the live buffer. It reports false when the buffer no longer holds the next
// one: the cursor is then where it stopped, and the store must be read.
func (s *Subscription) readLive(ctx context.Context, emit func(eventstore.Delivery) error, head int64) (bool, error) {
	f := s.feed
	n := int64(len(f.slots))
	delivered := 0
	defer func() { f.opts.Metrics.Delivered(delivered) }()
	for p := s.cursor + 1; p <= head; p++ {
		e := f.slots[p%n].Load()
		// The tailer moves oldest before it overwrites a slot: if oldest is
		// still at or below p after the read, e is what the slot held for p
		// (or an older event, for a position the tailer skipped). And if
		// the epoch is still the subscription's after that, the log did
		// not go back before the read (wentBack).
		if f.oldest.Load() > p || f.epoch.Load() != s.epoch {
			return false, nil
		}
		if e == nil || e.Position != p || !s.matches(e) {
			s.advance(p)
			continue
		}
		if err := s.deliver(ctx, emit, e); err != nil {
			if errors.Is(err, errDeclined) {
				s.declined = true // read from the store from here on
				return false, nil
			}
			return false, err
		}
		delivered++
	}
	// Not where it has just caught up: the caught-up that fromBuffer
	// delivers next tells the position.
	if s.progress && s.cursor > s.reported && (s.caughtUp || s.cursor < s.target) {
		s.reported = s.cursor
		if err := emit(eventstore.Delivery{Position: s.cursor}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// readStore delivers one page of history that readPage read from the
// store, no further than r.head: everything up to it was visible, and
// durable, before the query started, so a page with no more after it
// delivers all of it. Past the head, events may not be durable yet, and the
// live buffer will bring them. The page was read whole in a turn of the
// catch-up reads (takeRead), and only now delivered: no read of the store
// waits on emit, which writes to a client, and no turn is held while it
// does. What the page holds is what its place in the catch-up budget counts.
func (s *Subscription) readStore(ctx context.Context, emit func(eventstore.Delivery) error, r *storeRead) error {
	f := s.feed
	before := s.cursor
	head, events, more, err := r.head, r.events, r.more, r.err
	if errors.Is(err, ErrStopped) {
		return err
	}
	for i := range events {
		s.served += eventBytes(&events[i])
	}
	delivered := 0
	// The turn is what its consumer takes over the page (its writes), not
	// the store's reads of it: a read slower than the turn (a database
	// under load) used it up, and then every page held one event, or one
	// chunk, a query each.
	var spent time.Duration
	cut := false // the turn ended mid-page
	for i := range events {
		e := &events[i]
		if ctx.Err() != nil {
			// Shutdown, or the client left: what is read is not delivered.
			err = ctx.Err()
			break
		}
		if !s.matches(e) {
			s.advance(e.Position)
			continue
		}
		began := time.Now()
		derr := s.deliver(ctx, emit, e)
		spent += time.Since(began)
		if derr != nil {
			f.opts.Metrics.Delivered(delivered)
			if n := roomAsked(derr); n > s.room {
				// Read it again under a place with room for its copy; the
				// consumer writes what came before.
				s.room, s.roomAsked, s.wait = n, true, closed
				return nil
			}
			return derr
		}
		delivered++
		if spent >= f.turn && i < len(events)-1 && f.catchUp.waiting() {
			// Its consumer is slow, and others wait for a place: the rest
			// of the page is read again on its next turn, behind them, in
			// a page of about what it wrote in this one.
			more, s.pageLimit, cut = true, i+1, true
			break
		}
	}
	f.opts.Metrics.Delivered(delivered)
	if err != nil {
		return s.failed(ctx, "subscription: cannot read history; retrying", err)
	}
	if !cut && s.pageLimit > 0 {
		// Written whole: the next page may hold more.
		if s.pageLimit *= 2; s.pageLimit >= f.opts.PageSize {
			s.pageLimit = 0
		}
	}
	s.retryIn = 0
	switch {
	case !more:
		s.advance(max(s.cursor, head))
		s.declined, s.pageLimit = false, 0
		s.served = 0    // caught up: a later fall behind is a catch-up of its own
		s.wait = closed // the tailer may have moved on meanwhile
		return s.maybeCaughtUp(ctx, emit, nil)
	case s.cursor == before:
		// An empty page with more to come: the store is waiting for a
		// position to become visible. Look again shortly, not at once.
		s.after(gapRetry)
	default:
		s.wait = closed
	}
	return nil
}

// readPage reads a page of history after the cursor, up to r.head, in a
// turn of the catch-up reads, into r: the events, whether more follow, and
// the error that stopped the read (the events before it are kept with it).
// A page stops at about catchUpPageBytes, and one event more (the store
// reads no further). It runs on a goroutine of its own (begin), while the
// subscription's cursor and place stay as they are.
func (s *Subscription) readPage(ctx context.Context, r *storeRead) {
	r.events, r.more, r.err = s.feed.readPage(ctx, s.opts, r)
}

// readPage is Subscription.readPage's read, of what r says alone: the
// subscription may close meanwhile.
func (f *Feed) readPage(ctx context.Context, o eventstore.SubscribeOptions, r *storeRead) ([]eventstore.Event, bool, error) {
	head := r.head
	if err := f.takeRead(ctx); err != nil {
		return nil, false, err
	}
	defer f.endRead()
	limit := f.opts.PageSize
	if r.limit > 0 {
		limit = min(limit, r.limit)
	}
	page, err := f.store.ReadAll(ctx, eventstore.ReadAllOptions{After: r.after, UpTo: head, Limit: limit,
		StreamID: o.StreamID, StreamTypes: o.StreamTypes, EventTypes: o.EventTypes})
	if err != nil {
		return nil, false, err
	}
	var events []eventstore.Event
	var size int64
	for e, err := range page.Events {
		if err != nil {
			return events, page.More, err
		}
		if n := f.noteSize(&e); n > f.opts.MaxEventBytes {
			// Its place may count less, granted before the feed had read
			// an event this large: the page holds it anyway, and is
			// counted so.
			f.catchUp.cover(r.res, catchUpReserve(n)+r.room)
		}
		events = append(events, e)
		if size += eventBytes(&e); size >= catchUpPageBytes {
			return events, true, nil
		}
	}
	return events, page.More, nil
}

// noteSize notes the size of an event read: the log may hold events larger than
// MaxEventBytes (stored under a larger bound), which a place in the catch-up
// budget must count once the feed has met one, those waiting for their turn
// included. It returns the event's size.
func (f *Feed) noteSize(e *eventstore.Event) int {
	n := len(e.Data) + len(e.Metadata)
	for {
		old := f.largest.Load()
		if int64(n) <= old {
			return n
		}
		if f.largest.CompareAndSwap(old, int64(n)) {
			f.catchUp.raise(catchUpReserve(n))
			return n
		}
	}
}

// takeRead waits for a turn to read the store (CatchUpReads), in order; it
// returns ctx's error if ctx ends first, ErrStopped if the feed stops. A
// turn is held over the store's statements alone, never while a consumer
// writes: call endRead once the rows are read.
func (f *Feed) takeRead(ctx context.Context) error {
	select {
	case f.reads <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-f.done:
		return ErrStopped
	}
}

// endRead ends what takeRead began.
func (f *Feed) endRead() { <-f.reads }

// Reading takes a turn among the reads of history for a read a subscription
// makes before it opens (its stream's version, say), and returns what ends
// it: with the subscriptions' own, such reads take at most CatchUpReads
// connections of the read pool, and a hundred opening at once leave the rest
// to clients' reads of pages.
func (f *Feed) Reading(ctx context.Context) (func(), error) {
	if err := f.takeRead(ctx); errors.Is(err, ErrStopped) {
		return nil, fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	} else if err != nil {
		return nil, err
	}
	return f.endRead, nil
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

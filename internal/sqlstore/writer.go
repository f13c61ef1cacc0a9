package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// The write path. The database can commit only one append transaction at a
// time (that is what keeps positions in commit order), so one writer per
// store takes all the appends waiting at that moment into one transaction:
// the plan checks each request against the streams' state in order
// (idempotent retry first, then expected version and stream type), lays out
// the rows of those that pass, and each request gets its own outcome after
// COMMIT. Where the dialect batches, the appends that queued meanwhile are
// taken as the next group when the writes are sent, and the same round trip
// begins their transaction after COMMIT (takeNext): under load the log's lock
// passes from group to group in one round trip per group instead of two.
//
// A group's cost in the database hardly grows with its size, so the writer
// lingers (briefly) for the appends it expects: under a steady load, the
// clients whose appends the last group answered send their next ones a
// moment later, and the group that takes them all commits as many appends
// as two half groups would, for the cost of one.

const (
	// maxGroupEvents bounds how many events one group transaction gathers.
	maxGroupEvents = 5000
	// txTimeout bounds one group transaction, lock waits included.
	txTimeout = 30 * time.Second
	// maxTxAttempts is how often a transaction that failed with a retryable
	// error is tried in all.
	maxTxAttempts = 3
	// lingerMax bounds how long a group waits for the appends the writer
	// expects (linger): about one group commit's time.
	lingerMax = time.Millisecond
)

// MaxTxTime is the longest a group transaction of the writer lasts, lock
// waits included (txTimeout): a session that sits inside one for longer
// belongs to a process that is frozen or cut off.
const MaxTxTime = txTimeout

var errClosed = fmt.Errorf("%w: the store is shutting down", eventstore.ErrUnavailable)

// writer is a store's single writer.
type writer struct {
	d            Dialect
	db           *sql.DB
	waitDurable  func(ctx context.Context, position int64) error
	beforeCommit func()
	hooked       func() bool
	check        func() error
	committed    func(position int64)
	committing   func(position int64)
	notCommitted func()
	log          *slog.Logger
	m            *metrics.Metrics
	// stall, if not nil, answers the appends not yet sent while the
	// database does not answer (stall.go).
	stall *stallWatch

	calls chan *call
	stop  chan struct{}
	done  chan struct{}

	next   *carried            // the next group, taken while the last one committed; loop's alone
	spill  *call               // taken, but past the group's bytes (Dialect.MaxGroupBytes): the next group's first; loop's alone
	recent [recentGroups]taken // the last groups, for linger; loop's alone
	nth    int                 // how many groups recent has seen
	// lingerFor is lingerMax, longer in tests that must not depend on
	// how soon a busy machine runs their goroutines (0: lingerMax).
	lingerFor time.Duration
	// grouped counts the appends the loop has taken into its groups, since
	// it began (Taken): added once per group, nothing per append.
	grouped atomic.Int64
	// held are appends a test took from calls while it held the writer
	// (TakeQueued), in the order they came, for the loop's next group;
	// nHeld is how many, so that the loop looks (once per call it takes)
	// without the lock. kick wakes a loop that waits on calls for them.
	heldMu sync.Mutex
	held   []*call
	nHeld  atomic.Int32
	kick   chan struct{}
	// settleFor is settleTimeout, longer in tests whose database must be
	// seen to stop answering while settling waits (0: settleTimeout).
	settleFor time.Duration
	snap      snapshot // what the last commit left, where the dialect can send groups guarded; loop's alone
	outcomes  int64    // the outcomes decided with an order asked for (answer); loop's alone
	alone     bool     // commit runs a failed group's calls one at a time (takeNext begins none); loop's alone
	// stale: damage was met (dropSnapshots): the loop forgets the snapshot
	// before it plans its next group from it (one atomic load a group).
	stale atomic.Bool
	// drops moves log_head's commit id in the background (dropSnapshots);
	// warned keeps sawVersion's WARN to once a second a stream.
	drops  snapshotDrops
	warned warnedOf
	// left: the versions the writer's commits left its snapshot's streams
	// at, for reads on its database to compare (sawVersion); nil where
	// the reads cannot (another database, one that lags, no snapshot).
	left *versionsLeft
}

// carried is a group taken from calls while the group before it committed,
// with its transaction begun in the same round trip as that COMMIT (nil if
// it could not be).
type carried struct {
	calls []*call
	begun *begun
}

// newWriter starts a writer; close stops it.
func newWriter(d Dialect, opts Options, stall *stallWatch) *writer {
	w := &writer{d: d, db: opts.Writes, stall: stall, waitDurable: opts.WaitDurable, beforeCommit: opts.BeforeCommit, hooked: opts.Hooked, check: opts.Check, committed: opts.Committed, committing: opts.Committing, notCommitted: opts.NotCommitted, log: opts.Logger, m: opts.Metrics,
		calls: make(chan *call), stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	w.drops.life, w.drops.end = context.WithCancel(context.Background())
	if d.Batch && d.GuardedLockHead != "" && opts.ProbeReads && !d.ReadsLag {
		// Groups go planned from the snapshot, and the clients' reads are
		// on the writer's database (ProbeReads), where a commit answered
		// is seen by every read begun after.
		w.left = new(versionsLeft)
	}
	go w.loop()
	return w
}

// close finishes the group in progress, refuses new appends and returns
// when the writer has stopped.
func (w *writer) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	w.closeDrops()
}

// call is one Append waiting for the writer.
type call struct {
	ctx       context.Context
	req       eventstore.AppendRequest
	clientIDs []uuid.UUID // ids the client chose; only these can repeat
	bytes     int64       // what it adds to its group's statements (AppendBytes; 0 if no MaxGroupBytes)
	res       eventstore.AppendResult
	err       error
	done      chan struct{} // closed once res and err are its answer (answer)
	answered  bool          // answer was given; the loop's alone
	// order is the caller's slot for the order of its outcome
	// (eventstore.WithOutcomeOrder), nil if none: set by answer.
	order *int64
	// stored is set while the last plan of its group found it a retry of a
	// batch the log holds: whatever becomes of the group after (its time
	// runs out, a try fails before it reads), its events are there, and it
	// is never told that they were not written.
	stored *storedRetry
	// one holds req.Events for an append of one event, the most common:
	// its copy made with the call, not an allocation of its own.
	one [1]eventstore.NewEvent
}

// answer gives c its outcome and lets its caller go at once, not when its
// group ends: a call answered "refused" while its group is tried on for
// the others, or as a stored retry whose time ran out, does not hold its
// request for the rest of the group's time. A call is answered once:
// nothing writes res or err after, and a later answer is dropped.
func (c *call) answer(res eventstore.AppendResult, err error) {
	if c.answered {
		return
	}
	c.answered = true
	c.res, c.err = res, err
	close(c.done)
}

// answer gives c its outcome (call.answer), and its caller the order in
// which it was decided: the loop decides one outcome at a time, so the
// orders follow commits and refusals as they happened, whenever their
// callers handle them.
func (w *writer) answer(c *call, res eventstore.AppendResult, err error) {
	if c.answered {
		return
	}
	if c.order != nil {
		w.outcomes++
		*c.order = w.outcomes
	}
	c.answer(res, err)
}

// errNoAnswer is a call's that its group ended without answering; none
// should. It may have been written: it is not told that it was not.
var errNoAnswer = fmt.Errorf("%w: the writer ended this append's group without an answer for it", eventstore.ErrOutcomeUnknown)

// storedRetry is a call's answer as a retry of a batch the log holds, and
// the log's head its plan read, which must be durable before it is given.
type storedRetry struct {
	res  eventstore.AppendResult
	head int64
}

// append hands a request to the writer and waits for its outcome.
func (w *writer) append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := req.Validate(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, err)
	}
	c := &call{ctx: ctx, req: req, done: make(chan struct{}), order: eventstore.OutcomeOrderSlot(ctx)}
	if w.d.MaxGroupBytes > 0 {
		c.bytes = AppendBytes(req) // a scan of every byte, for dialects that bound a group
	}
	if most := w.d.MaxGroupBytes - GroupOverheadBytes; w.d.MaxGroupBytes > 0 && c.bytes > most {
		// Alone in its group it would still be more than the database
		// takes in one statement: it can never be written as it is.
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w: its %d events take up to %d bytes in the database's statement, "+
			"and the database takes at most %d in one append (its max_allowed_packet); send fewer or smaller events in each append",
			req.StreamID, eventstore.ErrTooLarge, len(req.Events), c.bytes, max(most, 0))
	}
	if len(req.Events) == 1 {
		c.req.Events = c.one[:]
	} else {
		c.req.Events = make([]eventstore.NewEvent, len(req.Events))
	}
	for i, e := range req.Events {
		if e.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return eventstore.AppendResult{}, fmt.Errorf("append to %s: make event id: %w", req.StreamID, err)
			}
			e.ID = id
		} else {
			c.clientIDs = append(c.clientIDs, e.ID)
		}
		c.req.Events[i] = e
	}
	if err := ctx.Err(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, err)
	}
	if err := w.hand(ctx, c); err != nil {
		return eventstore.AppendResult{}, err
	}
	// Once handed over, the append may commit: wait for the outcome even if
	// the caller gives up, so that what is reported is what happened.
	<-c.done
	w.record(c)
	if c.err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, c.err)
	}
	return c.res, nil
}

// hand hands c to the writer. It returns an error, c not handed over and
// so never sent, if the caller's time ends first (the writer still at the
// groups before it), the writer stops, or the database is known not to
// answer, now or while c waits (stall.go): queued behind a group stuck in
// the database, c is answered at once, not at its deadline.
func (w *writer) hand(ctx context.Context, c *call) error {
	req := c.req
	for {
		if err := w.stall.err(); err != nil {
			return fmt.Errorf("append to %s: %w", req.StreamID, err)
		}
		select {
		case w.calls <- c:
			return nil
		case <-w.stall.begins():
			continue // refused above, unless it ended meanwhile
		case <-ctx.Done():
			if err := ctx.Err(); errors.Is(err, context.DeadlineExceeded) {
				// Never handed over: the writer was still at the groups before
				// it (one waiting for a lock, a slow database). Not the
				// caller's leaving, which is said as such (context.Canceled).
				return fmt.Errorf("append to %s: %w: its time ended while the writer was busy with the appends before it: "+
					"not written (%w)", req.StreamID, eventstore.ErrUnavailable, err)
			}
			return fmt.Errorf("append to %s: %w", req.StreamID, ctx.Err())
		case <-w.stop:
			return fmt.Errorf("append to %s: %w", req.StreamID, errClosed)
		}
	}
}

// record counts a call's outcome in the metrics.
func (w *writer) record(c *call) {
	switch {
	case c.err == nil && c.res.Duplicate:
		w.m.Replayed()
	case c.err == nil:
		w.m.Appended(len(c.res.Events))
	case errors.Is(c.err, eventstore.ErrWrongExpectedVersion):
		w.m.Conflict(metrics.WrongExpectedVersion)
	case errors.Is(c.err, eventstore.ErrDuplicateEventID):
		w.m.Conflict(metrics.DuplicateEventID)
	case errors.Is(c.err, eventstore.ErrStreamTypeMismatch):
		w.m.Conflict(metrics.StreamTypeMismatch)
	case errors.Is(c.err, eventstore.ErrIdempotencyKeyReused):
		w.m.Conflict(metrics.IdempotencyKeyReused)
	}
}

// loop is the only writer. While one group commits, the next requests queue
// up; they are then taken together into the next transaction.
func (w *writer) loop() {
	// (done is closed first: a test's takeQueued that takes a call
	// after closeHeld looked sees it closed, and answers the call.)
	defer w.closeHeld()
	defer close(w.done)
	for {
		var group []*call
		var pre *begun
		if next := w.next; next != nil {
			// Taken while the last group committed: it was handed over, so
			// it is written even if the writer is stopping.
			w.next = nil
			group, pre = next.calls, next.begun
		} else if first := w.spill; first != nil {
			// Taken, so written even if the writer is stopping.
			w.spill = nil
			group = w.linger(w.waiting([]*call{first}))
		} else if first := w.heldCall(); first != nil {
			// Taken (by a test: TakeQueued), so written even if the
			// writer is stopping.
			group = w.linger(w.waiting([]*call{first}))
		} else {
			select {
			case first := <-w.calls:
				group = w.linger(w.waiting([]*call{first}))
			case <-w.kick:
				continue // a test took calls: held above
			case <-w.stop:
				return
			}
		}
		w.took(len(group))
		w.commit(group, pre)
	}
}

// recentGroups is how many of the last groups linger looks at.
const recentGroups = 8

// taken is a group the writer took: when, and how many appends.
type taken struct {
	at      time.Time
	appends int
}

// took records that a group took n appends now, for linger and Taken.
func (w *writer) took(n int) {
	w.recent[w.nth%recentGroups] = taken{time.Now(), n}
	w.nth++
	w.grouped.Add(int64(n))
}

// linger waits, up to lingerMax, for group to take as many appends as the
// largest of the last recentGroups groups did, while appends come at least
// twice per lingerMax: under a steady load from n clients, those whose
// appends the last group answered send their next ones a moment later, and
// without the wait the group would go with the others alone, the clients
// split in two halves that take turns. Appends that come more slowly (a
// steady rate well within what the writer commits) go at once. It stops
// waiting once the group holds maxGroupEvents events or the writer stops,
// and lingerMax (about a commit's time) before the earliest deadline of its
// callers.
// When the load drops, a group waits out lingerMax for appends that do not
// come, for recentGroups groups at the most.
func (w *writer) linger(group []*call) []*call {
	most := w.lingerFor
	if most == 0 {
		most = lingerMax
	}
	want, appends, since := 0, 0, time.Now()
	for _, g := range w.recent {
		if g.at.IsZero() {
			continue
		}
		want, appends = max(want, g.appends), appends+g.appends
		if g.at.Before(since) {
			since = g.at
		}
	}
	if len(group) >= want || eventsOf(group) >= maxGroupEvents ||
		time.Duration(appends)*most < 2*time.Since(since) {
		return group
	}
	// Not into the last lingerMax (about a commit's time) before a caller's
	// deadline: the group would go too late to be written.
	end := time.Now().Add(most)
	if d := earliestDeadline(group).Add(-most); d.Before(end) {
		end = d
	}
	if !time.Now().Before(end) {
		return group
	}
	timer := time.NewTimer(time.Until(end))
	defer timer.Stop()
	for len(group) < want && eventsOf(group) < maxGroupEvents && w.spill == nil {
		select {
		case c := <-w.calls:
			n := len(group)
			if !w.fits(group, c) {
				w.spill = c
				return group
			}
			group = w.waiting(append(group, c))
			if d := earliestDeadline(group[n:]).Add(-most); d.Before(end) {
				if end = d; !time.Now().Before(end) {
					return group
				}
				timer.Reset(time.Until(end))
			}
		case <-timer.C:
			return group
		case <-w.stop:
			return group
		}
	}
	return group
}

// eventsOf counts the events of calls.
func eventsOf(calls []*call) int {
	n := 0
	for _, c := range calls {
		n += len(c.req.Events)
	}
	return n
}

// GroupOverheadBytes bounds what a group's statements carry besides its
// appends' shares (AppendBytes): the fixed statements (the session's SET,
// BEGIN, the log's lock or guard, the head's UPDATE, COMMIT, the marker)
// and the INSERTs' and reads' own text, up to maxGroupEvents events.
const GroupOverheadBytes = 16 << 10

// Bytes an append's rows add to its group's statements besides their
// values' bytes (sqlBytes): per event, its position, version and batch size
// (20 digits each at most), its id and stream id (_binary'…', 16 bytes
// escaped), its time ('2006-01-02 15:04:05.999999'), the punctuation of
// its row, and its id again among the known ids a group reads (a client's);
// per append, its stream's part of the reads (readStreams, with its id) and
// its row of streams, if it creates it.
const (
	eventRowBytes  = 3*20 + 2*41 + 28 + 2*10 + 45 + 25
	streamRowBytes = 260 + 41 + 41 + 28 + 10
)

// AppendBytes is the most bytes req adds to its group's statements as sent,
// its values written into them escaped (a byte of data may go as two):
// every event's data, metadata, type and stream type with its row
// (eventRowBytes), and the stream's reads and row. See MaxGroupBytes.
func AppendBytes(req eventstore.AppendRequest) int64 {
	st := sqlBytes(req.StreamType)
	n := streamRowBytes + 2*st
	for _, e := range req.Events {
		n += eventRowBytes + st + sqlBytes(e.Type) + sqlBytes(e.Data) + sqlBytes(e.Metadata)
	}
	return n
}

// sqlBytes is the length of v written into a statement as the driver does:
// in quotes, with a _binary prefix for bytes, and each byte that it escapes
// with a backslash (NUL, \n, \r, \x1a, quotes and the backslash) doubled.
// Escaped with quotes (NO_BACKSLASH_ESCAPES), it is shorter.
func sqlBytes[T string | []byte](v T) int64 {
	n := int64(len(v) + len("_binary''"))
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case 0, '\n', '\r', 0x1a, '\'', '"', '\\':
			n++
		}
	}
	return n
}

// bytesOf counts what calls add to their group's statements (AppendBytes).
func bytesOf(calls []*call) int64 {
	var n int64
	for _, c := range calls {
		n += c.bytes
	}
	return n
}

// fits reports whether c may join group within the dialect's
// MaxGroupBytes; the first call of a group always may (append refused
// those that cannot fit alone).
func (w *writer) fits(group []*call, c *call) bool {
	return len(group) == 0 || w.d.MaxGroupBytes <= 0 || GroupOverheadBytes+bytesOf(group)+c.bytes <= w.d.MaxGroupBytes
}

// waiting adds to group the calls waiting now, as long as it holds fewer
// than maxGroupEvents events and the dialect's MaxGroupBytes. A call taken
// that would go past the bytes is kept (w.spill) as the next group's first.
func (w *writer) waiting(group []*call) []*call {
	n := eventsOf(group)
	for n < maxGroupEvents && w.spill == nil {
		c := w.heldCall() // those a test took came first
		if c == nil {
			select {
			case c = <-w.calls:
			default:
				return group
			}
		}
		if !w.fits(group, c) {
			w.spill = c
			return group
		}
		group = append(group, c)
		n += len(c.req.Events)
	}
	return group
}

// takeQueued takes from calls, on its caller's goroutine, the appends
// handed to the writer, in the order they came, until n are held for the
// loop's next group (see Store.TakeQueued), or ctx ends.
func (w *writer) takeQueued(ctx context.Context, n int) error {
	for int(w.nHeld.Load()) < n {
		select {
		case c := <-w.calls:
			w.heldMu.Lock()
			w.held = append(w.held, c)
			w.nHeld.Add(1)
			w.heldMu.Unlock()
			select {
			case w.kick <- struct{}{}:
			default:
			}
			select {
			case <-w.done: // the loop ended as c came: it will not take it
				w.closeHeld()
			default:
			}
		case <-ctx.Done():
			return fmt.Errorf("%d appends handed to the writer were taken; want %d before the test goes on (%w)", w.nHeld.Load(), n, ctx.Err())
		}
	}
	return nil
}

// heldCall is the first of the calls a test took (takeQueued), removed,
// or nil if it took none. Without them, it is one atomic load.
func (w *writer) heldCall() *call {
	if w.nHeld.Load() == 0 {
		return nil
	}
	w.heldMu.Lock()
	defer w.heldMu.Unlock()
	if len(w.held) == 0 {
		return nil
	}
	c := w.held[0]
	w.held = w.held[1:]
	w.nHeld.Add(-1)
	return c
}

// closeHeld answers the calls a test took that the loop, stopped, will
// not take: not written.
func (w *writer) closeHeld() {
	for c := w.heldCall(); c != nil; c = w.heldCall() {
		c.answer(eventstore.AppendResult{}, errClosed)
	}
}

// commit writes a group and reports each call's outcome. pre, if not nil, is
// the group's transaction, already begun.
func (w *writer) commit(group []*call, pre *begun) {
	defer func() {
		for _, c := range group {
			w.answer(c, eventstore.AppendResult{}, errNoAnswer) // (none should be left)
		}
	}()
	live := w.unexpired(group, nil)
	if len(live) == 0 {
		pre.abandon()
		return
	}
	err := w.run(live, pre)
	if err == nil {
		return
	}
	// Those answered meanwhile (refused as their time was nearly up, a
	// stored retry whose time ran out) keep their answer: none is run again.
	pending := slices.DeleteFunc(live, func(c *call) bool { return c.answered })
	if len(pending) > 1 && !errors.Is(err, eventstore.ErrUnavailable) {
		// Something in one request broke the shared transaction. Run each
		// request alone so that only the one at fault fails.
		w.log.Warn("group append failed; retrying its requests one at a time", "requests", len(pending), "error", err)
		// None of those runs begins the next group in its COMMIT's round
		// trip: that group's reads would hold the log's lock, which the
		// next run alone would wait for until its caller's time ran out.
		w.alone = true
		defer func() { w.alone = false }()
		for _, c := range pending {
			if len(w.unexpired([]*call{c}, nil)) == 1 {
				if err := w.run([]*call{c}, nil); err != nil {
					w.answer(c, eventstore.AppendResult{}, err)
				}
			}
		}
		return
	}
	for _, c := range pending {
		w.answer(c, eventstore.AppendResult{}, err)
	}
}

// unexpired returns the calls whose callers still wait; the others get
// their context's error and are never written, but for a retry of a batch
// the log holds (found by a plan of its group's), which is answered as such
// (answerStored). failed, if not nil, is run's answer for the try that
// failed last: a caller whose time ran out since (in the wait after a
// refused lock, say) is told that, what kept its append from being
// written, rather than only that its time ran out.
func (w *writer) unexpired(calls []*call, failed error) []*call {
	live := make([]*call, 0, len(calls))
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			switch {
			case c.stored != nil:
				w.answerStored([]*call{c}, nil)
			case failed != nil && errors.Is(err, context.DeadlineExceeded):
				w.answer(c, eventstore.AppendResult{}, failed)
			default:
				w.answer(c, eventstore.AppendResult{}, fmt.Errorf("%w before it could be written", err))
			}
			continue
		}
		live = append(live, c)
	}
	return live
}

// answerStored answers calls, retries of batches the log holds (stored)
// that their group could not answer otherwise (it failed, or their time ran
// out): as stored once what their plans read is durable, waited for until
// the earliest of their deadlines (a deadline past asks only whether it is
// known to be); else as stored, its durability not confirmed, of unknown
// outcome (ErrOutcomeUnknown), never as not written. unconfirmed, if not
// nil, is the group's wait for that durability, which failed: it is not
// waited for again.
func (w *writer) answerStored(calls []*call, unconfirmed error) {
	if unconfirmed == nil {
		var head int64
		for _, c := range calls {
			head = max(head, c.stored.head)
		}
		ctx, cancel := context.WithDeadline(context.Background(), earliestDeadline(calls))
		err := w.waitDurableWhileCalled(ctx, calls, head)
		cancel()
		if err == nil {
			for _, c := range calls {
				w.answer(c, c.stored.res, nil)
			}
			return
		}
		unconfirmed = fmt.Errorf("%w: %w: %w", eventstore.ErrUnavailable, errDurabilityWait, err)
	}
	for _, c := range calls {
		w.answer(c, eventstore.AppendResult{}, fmt.Errorf("%w: this batch is already stored (a retry), and whether it is durable could not be confirmed: %w",
			eventstore.ErrOutcomeUnknown, unconfirmed))
	}
}

// waitDurableWhileCalled waits, by ctx's end, until every commit up to
// position is durable, and ends too once every caller of calls has left
// (the error then wraps errCallerLeft): it writes nothing, and an Append,
// which waits for its answer, would hold its handler (through a stop's
// reserve) for the rest of the wait. It ends too once a stall begins
// (stall.go), if the wait needs the database: nothing can confirm
// durability while it does not answer, and the callers are told so at
// once (their batches stored, of unknown outcome), not at their deadline.
func (w *writer) waitDurableWhileCalled(ctx context.Context, calls []*call, position int64) error {
	ctx, stop := whileCalled(ctx, calls)
	defer stop()
	return leftOr(ctx, w.stall.waitDurable(ctx, w.waitDurable, position))
}

// errDurabilityWait marks a failed wait for the durability of what a group
// read (WaitDurable): one that had nothing to write (each request a retry
// of a stored batch, or refused), or one that answers retries.
var errDurabilityWait = errors.New("the wait for the durability of what the group read")

// run runs a group transaction, again after a retryable failure, and stores
// each call's outcome once it has committed. A call whose caller gave up
// meanwhile is left out of the next try; run returns nil once no call is left.
// pre, if not nil, is the transaction of calls already begun: the first try
// uses it if every call still waits.
//
// Each try ends by the earliest deadline of the calls still waiting, and
// all end at most txTimeout from run's start: a caller without a deadline
// (a Go caller of the store) is not kept for ever by a lock that stays
// taken, and a caller with time left goes on being tried once one with
// less has left the group.
func (w *writer) run(calls []*call, pre *begun) error {
	var err error
	// refusals counts the waits for a refused lock, writeRefusals those
	// of the writes' (not the durability wait's: its lock is not the
	// writes').
	refusals, writeRefusals := 0, 0
	bound := time.Now().Add(txTimeout)
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		var failed error // what a caller whose time ran out since the last try failed is told
		if err != nil && !errors.Is(err, errCallerLeft) {
			failed = w.failure(err, writeRefusals)
		}
		if calls = w.unexpired(calls, failed); len(calls) == 0 {
			pre.abandon()
			return nil
		}
		end := earliestDeadline(calls)
		if bound.Before(end) {
			end = bound
		}
		if err != nil && !errors.Is(err, errCallerLeft) && !time.Now().Before(end) {
			// No time for another try (the callers' timers have yet to
			// fire): it would end at once, its error ("begin: context
			// deadline exceeded") hiding what ended the last.
			pre.abandon()
			break
		}
		if pre != nil && len(pre.reads.calls) != len(calls) {
			// Its plan counts a caller who left.
			pre.abandon()
			pre = nil
		}
		if serr := w.stall.err(); serr != nil && pre == nil {
			// The database does not answer: a try sent now would wait for
			// the callers' deadline. Nothing of it is sent (a try before
			// it wrote nothing, or run would not be here). A group whose
			// reads went with the last COMMIT (pre) goes on: they were
			// sent, and their rows may be on their way.
			err = serr
			break
		}
		var out []outcome
		out, err = w.transact(calls, pre, end)
		pre = nil
		if err == nil {
			for i, c := range calls {
				w.answer(c, out[i].res, out[i].err)
			}
			return nil
		}
		if errors.Is(err, errCallerLeft) {
			// Not a failed attempt: the next goes without the callers who
			// left (one at least), so the tries still end. Counted as one,
			// a last try that ended so left its calls with no answer at
			// all: no error, and nothing written.
			attempt--
			continue
		}
		if errors.Is(err, ErrNotWriter) && w.d.NotWriter != nil && attempt < maxTxAttempts {
			if nerr := w.notWriter(calls); errors.Is(nerr, errCallerLeft) {
				attempt-- // not a failed attempt: the next answers those who left
				continue
			} else if nerr != nil {
				err = fmt.Errorf("%w: %w", errLeaseWait, nerr)
				break
			}
			continue
		}
		if w.d.Refused != nil && w.d.Refused(err) {
			// A lock the writes refused rather than wait for (a migration's,
			// a backup's, a report's): wait for it here, where no COMMIT is
			// on its way, and try again while the callers still wait.
			wait := min(time.Millisecond<<min(refusals, 6), 50*time.Millisecond)
			if time.Until(end) > 2*wait {
				refusals++
				if !errors.Is(err, errDurabilityWait) {
					writeRefusals++
				}
				time.Sleep(wait)
				attempt-- // not a failed attempt
				continue
			}
			// The earliest callers' time ends before another wait: they
			// fail as refused, and those with time left go on being tried
			// without them, as a group of their own would be.
			if rest := waitingPast(calls, time.Now().Add(2*wait)); len(rest) > 0 && len(rest) < len(calls) {
				w.leave(calls, rest, w.failure(err, writeRefusals))
				calls = rest
				attempt-- // not a failed attempt
				continue
			}
			// No time for another wait: the refusal is the answer. A try
			// begun now would only meet the deadline.
			break
		}
		if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errOutcomeUnknown) && !errors.Is(err, errDurabilityWait) {
			// The try ended at the earliest callers' deadline (a lock wait,
			// a slow statement), having written nothing: a COMMIT whose
			// answer was lost is settled before it comes here. They fail,
			// and those with time left go on being tried without them.
			if rest := waitingPast(calls, time.Now()); len(rest) > 0 && len(rest) < len(calls) {
				w.leave(calls, rest, w.failure(err, writeRefusals))
				calls = rest
				attempt-- // not a failed attempt
				continue
			}
		}
		if !errors.Is(err, errNotCommitted) && !errors.Is(err, errReadsLost) && !w.d.Retryable(err) && !w.d.Conflict(err) {
			break
		}
	}
	failed := w.failure(err, writeRefusals)
	if errors.Is(err, errOutcomeUnknown) || !errors.Is(err, errDurabilityWait) && !errors.Is(failed, eventstore.ErrUnavailable) {
		// (A failure not of the database's passing trouble is told to
		// each call alone next: a retry then gets its answer there.)
		return failed
	}
	// A retry of a batch already stored was planned (by this try or an
	// earlier one), and its group failed: its events are there. Told "not
	// written", a client without ids of its own would send them again. It
	// is answered as stored once what its plan read is known durable; if
	// that cannot be confirmed (the failure was that wait's), it is told
	// that its batch is stored, its durability unconfirmed, of unknown
	// outcome. The others wrote nothing.
	if !errors.Is(failed, eventstore.ErrUnavailable) {
		failed = fmt.Errorf("%w: %w", eventstore.ErrUnavailable, failed)
	}
	var stored []*call
	for _, c := range calls {
		if c.stored != nil {
			stored = append(stored, c)
		} else {
			w.answer(c, eventstore.AppendResult{}, failed)
		}
	}
	if len(stored) > 0 {
		var unconfirmed error
		if errors.Is(err, errDurabilityWait) {
			unconfirmed = failed
		}
		w.answerStored(stored, unconfirmed)
	}
	return nil
}

// leave answers the calls that are not in rest, which run goes on trying
// without them, with err, or, a retry of a batch the log holds, as stored
// (answerStored): their time is up, or nearly.
func (w *writer) leave(calls, rest []*call, err error) {
	var stored []*call
	for _, c := range calls {
		switch {
		case slices.Contains(rest, c):
		case c.stored != nil:
			stored = append(stored, c)
		default:
			w.answer(c, eventstore.AppendResult{}, err)
		}
	}
	if len(stored) > 0 {
		w.answerStored(stored, nil)
	}
}

// failure is run's error for its calls once its tries have ended with err,
// after refusals waits for a lock the database refused the writes.
func (w *writer) failure(err error, refusals int) error {
	switch {
	case isStall(err):
		return err // nothing sent: not written
	case errors.Is(err, errOutcomeUnknown):
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	case errors.Is(err, errDurabilityWait) && errors.Is(err, context.DeadlineExceeded):
		// Not the writes' lock nor a statement of theirs: the wait for
		// what the group read to be durable (the MySQL store's fence,
		// which may wait for a lock on its row) was still on.
		return fmt.Errorf("%w: what this append read could not be confirmed durable within the request's time (%w)", eventstore.ErrUnavailable, err)
	case errors.Is(err, errDurabilityWait) && w.d.Refused != nil && w.d.Refused(err):
		return fmt.Errorf("%w: the wait for what this append read to be durable kept meeting a lock that another session holds (%w)", eventstore.ErrUnavailable, err)
	case errors.Is(err, errLeaseWait) && errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: this node of the Galera cluster does not hold the writer lease, and the store did not reach the node that does "+
			"within the request's time (%w)", eventstore.ErrUnavailable, err)
	case errors.Is(err, errNoConnection) && errors.Is(err, context.DeadlineExceeded):
		// Not a statement the database did not answer: none was sent.
		return fmt.Errorf("%w: no connection to the database was free within the request's time "+
			"(each of the writer's in use, or none could be made) (%w)", eventstore.ErrUnavailable, err)
	case !errors.Is(err, errDurabilityWait) && w.d.Refused != nil && w.d.Refused(err):
		// Refused as the time ended, with none for another wait.
		return fmt.Errorf("%w: a lock this append needs was not free within the request's time: another session holds it (%w)",
			eventstore.ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded) && (refusals > 0 || errors.Is(err, errWriteLockWait)):
		// The database said, meanwhile, that a lock the writes need was
		// held (Refused): another session's. Or the time ended in a BEGIN
		// that waits for the write lock (BeginLocks): another
		// connection's, not a silent database.
		return fmt.Errorf("%w: the write lock was not free within the request's time (%w)", eventstore.ErrUnavailable, err)
	case errors.Is(err, errWriteLockWait):
		// The database ended each of its waits for the write lock
		// (SQLite's busy timeout) before the request's time: another
		// connection held it throughout.
		return fmt.Errorf("%w: the write lock was not free: another connection to the database held it through each of the database's "+
			"waits for it (%w)", eventstore.ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded):
		// The callers' deadline ended a statement the database had not
		// answered: no lock wait it reported. A stalled or overloaded
		// server, or a network that drops what it sends, not a lock
		// holder to look for.
		return fmt.Errorf("%w: the database did not answer within the request's time (%w)", eventstore.ErrUnavailable, err)
	case w.d.Conflict(err):
		// Still taken on a fresh read: rows the log's head does not account for.
		return fmt.Errorf("a position or stream version this append needs is taken by a row the log head does not count: "+
			"something writes to the database without the log lock (%w)", err)
	}
	return w.d.Translate(err)
}

type outcome struct {
	res eventstore.AppendResult
	err error
}

// transact runs one group transaction. Requests that fail a check get their
// error in the outcome and write nothing; the others are written together.
// The returned error is about the transaction itself: then nothing was written.
//
// The transaction ends by the earliest deadline of its callers: its lock
// waits cannot outlast any of them, and a transaction still open then rolls
// back. Just before COMMIT it checks that every caller still waits; if one
// has left, it rolls back with errCallerLeft, and the others are tried again
// without it.
//
// pre, if not nil, is the transaction already begun for calls (see
// takeNext); if its reads failed, transact begins afresh, since they wrote
// nothing. The transaction ends by end at the latest (run's).
func (w *writer) transact(calls []*call, pre *begun, end time.Time) ([]outcome, error) {
	deadline := earliestDeadline(calls)
	if end.Before(deadline) {
		deadline = end
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer func() {
		if cancel != nil {
			cancel()
		}
	}()
	start := time.Now()
	if pre == nil && w.guarded() {
		out, err := w.transactGuarded(ctx, calls)
		if err == nil && out != nil {
			w.m.GroupCommitted(len(calls), time.Since(start))
			return out, nil
		}
		if err != nil && !errors.Is(err, errStopped) {
			return nil, err
		}
		// Not sent, or stopped before COMMIT: read first.
	}
	var t *appendTx
	var p *plan
	if pre != nil {
		// If its reads failed (a lock wait cut short by the earlier group's
		// deadline, a lost connection), it was rolled back: begin afresh,
		// which meets the same trouble, if any, with this group's deadline.
		var err error
		if t, p, err = pre.finish(calls); t == nil && errors.Is(err, errCallerLeft) {
			return nil, err
		}
	}
	if t == nil {
		if err := w.stall.err(); err != nil {
			// The database does not answer: a BEGIN sent now would wait
			// for the callers' deadline. Reads that went with the last
			// COMMIT (pre) and failed wrote nothing.
			return nil, err
		}
		var err error
		if t, p, err = begin(ctx, w.db, w.d, w.m, w.stall, calls); err != nil {
			return nil, err
		}
	}
	head := p.head
	out := make([]outcome, len(calls))
	for i, c := range calls {
		out[i] = p.apply(c)
		c.stored = nil
		if out[i].err == nil && out[i].res.Duplicate {
			c.stored = &storedRetry{res: out[i].res, head: head}
		}
	}
	if p.head == head {
		// Every request was refused or a replay: nothing to commit. A commit
		// of ours would have made what it read durable; without one, wait
		// until it is.
		t.rollback()
		// A stream met with its row of streams missing: another process's
		// snapshot may hold it as it was (guarded.go). (A group that
		// commits gives the head a new commit id anyway.)
		for _, id := range p.order {
			if p.streams[id].rowMissing {
				w.dropSnapshots() // in the background: the group's answer does not wait
				break
			}
		}
		if err := w.waitDurableWhileCalled(ctx, calls, head); err != nil {
			if errors.Is(err, errCallerLeft) {
				return nil, err // run answers the retries as stored, not confirmed durable
			}
			return nil, fmt.Errorf("%w: %w", errDurabilityWait, err)
		}
		return out, nil
	}
	for _, c := range calls {
		if c.ctx.Err() != nil {
			t.rollback()
			return nil, errCallerLeft
		}
	}
	if w.check != nil {
		if err := w.check(); err != nil {
			t.rollback()
			return nil, err
		}
	}
	if w.beforeCommit != nil {
		w.beforeCommit()
	}
	next := w.takeNext(deadline, calls)
	if w.committing != nil {
		w.committing(p.head)
	}
	b, err := t.writeAndCommit(ctx, p, next)
	if err != nil {
		ok, _, serr := w.settle(p, err)
		if ok {
			// Committed, its answer lost: what the plan said, stamped
			// with the time the plan read.
			if w.committed != nil {
				w.committed(p.head)
			}
			w.m.GroupCommitted(len(calls), time.Since(start))
			return out, nil
		}
		w.notCommitting()
		return nil, serr // errNotCommitted: run tries it again
	}
	if b != nil {
		b.ctx, b.cancel, cancel = ctx, cancel, nil // the next group's reads are still on their way
		w.next.begun = b
	}
	w.remember(head, p)
	if w.committed != nil {
		w.committed(p.head)
	}
	w.m.GroupCommitted(len(calls), time.Since(start))
	return out, nil
}

// remember records in the snapshot the state the committed group p left,
// read being the head its plan started from, and for the reads the
// versions it left (left).
func (w *writer) remember(read int64, p *plan) {
	fresh := w.snap.remember(read, p)
	if w.left != nil {
		w.left.record(fresh, p, time.Now())
	}
}

// notCommitting tells NotCommitted that the COMMIT told to Committing did
// not return success: a reader must not wait for it.
func (w *writer) notCommitting() {
	if w.notCommitted != nil {
		w.notCommitted()
	}
}

// guarded reports whether groups may go in one round trip: where the
// dialect can send them so, and not while a test's BeforeCommit hook is set,
// which must run with the lock held.
func (w *writer) guarded() bool {
	return w.d.Batch && w.d.GuardedLockHead != "" && (w.beforeCommit == nil || w.hooked != nil && !w.hooked())
}

// transactGuarded sends calls as one round trip planned from the snapshot
// (guarded.go) and returns their outcomes once committed. It returns nil
// and no error if the snapshot cannot plan them or a caller has left, and
// errStopped if the batch stopped before COMMIT (a stale snapshot, the lock
// busy): then nothing was written, and the group is to be read first. Any
// other error is the transaction's.
func (w *writer) transactGuarded(ctx context.Context, calls []*call) ([]outcome, error) {
	if w.stale.Load() {
		// A read met damage the snapshot may not know (dropSnapshots):
		// read first, whatever becomes of the move of the commit id.
		w.stale.Store(false)
		w.snap.forget()
	}
	from, commit := w.snap.head, w.snap.commit
	p, out := w.snap.plan(calls)
	if p == nil {
		return nil, nil
	}
	for _, c := range calls {
		if c.ctx.Err() != nil {
			return nil, nil // the usual way finds it and tries the others without it
		}
	}
	if w.committing != nil {
		w.committing(p.head)
	}
	if err := w.sendGuarded(ctx, p, from, commit, out); err != nil {
		w.snap.forget()
		ok, now, serr := w.settle(p, err)
		switch {
		case ok:
			// Committed, its answer (and the time it read back) lost.
			stamp(p, out, now)
			if w.committed != nil {
				w.committed(p.head)
			}
			return out, nil
		case errors.Is(serr, errNotCommitted):
			err = fmt.Errorf("%w: %w", errStopped, serr) // read first, as after a stale snapshot
		default:
			err = serr
		}
		w.notCommitting()
		return nil, err
	}
	w.remember(from, p)
	if w.committed != nil {
		w.committed(p.head)
	}
	return out, nil
}

// takeNext takes the calls waiting now as the next group, so that the
// round trip that commits this group, ending by deadline, also begins theirs
// (batching dialects only): the log's lock then passes from one group to the
// next without a round trip between them. It returns their read phase, or
// nil if there is none or it cannot go in that round trip: a caller that
// has left, one whose deadline comes before this group's, which would
// end the round trip before COMMIT answers, or reads that would take the
// round trip past the dialect's MaxGroupBytes with this group's calls'
// writes. The calls are w.next either way. While commit runs a failed
// group's calls one at a time (w.alone), it takes none.
func (w *writer) takeNext(deadline time.Time, calls []*call) *readPhase {
	if !w.d.Batch || w.next != nil || w.alone {
		return nil
	}
	taken := w.waiting(nil)
	if len(taken) == 0 {
		return nil
	}
	w.next = &carried{calls: taken}
	live := w.unexpired(taken, nil)
	if len(live) < len(taken) || earliestDeadline(live).Before(deadline) {
		return nil
	}
	if w.d.MaxGroupBytes > 0 && 2*GroupOverheadBytes+bytesOf(calls)+bytesOf(live) > w.d.MaxGroupBytes {
		return nil
	}
	return newReadPhase(w.d, live, earliestDeadline(live))
}

// notWriter waits, until the earliest deadline of calls, for the store to
// connect to the node that holds the writer lease. It ends too once every
// caller has left (the error then wraps errCallerLeft), as a group's reads do.
func (w *writer) notWriter(calls []*call) error {
	ctx, cancel := context.WithDeadline(context.Background(), earliestDeadline(calls))
	defer cancel()
	ctx, stop := whileCalled(ctx, calls)
	defer stop()
	return leftOr(ctx, w.d.NotWriter(ctx))
}

// earliestDeadline is the earliest of the calls' deadlines, and at most
// txTimeout from now.
func earliestDeadline(calls []*call) time.Time {
	deadline := time.Now().Add(txTimeout)
	for _, c := range calls {
		if d, ok := c.ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
	}
	return deadline
}

// waitingPast returns the calls whose callers wait past t: those without a
// deadline, and those whose deadline comes after t.
func waitingPast(calls []*call, t time.Time) []*call {
	var out []*call
	for _, c := range calls {
		if d, ok := c.ctx.Deadline(); !ok || d.After(t) {
			out = append(out, c)
		}
	}
	return out
}

// ErrNotWriter is an append transaction's on a node of a Galera cluster that
// does not hold the writer lease: it stopped before writing anything.
var ErrNotWriter = fmt.Errorf("%w: this node of the Galera cluster does not hold the writer lease (another instance moved it)", eventstore.ErrUnavailable)

// errLeaseWait marks a failed wait for the store to reach the node that
// holds the Galera writer lease (Dialect.NotWriter).
var errLeaseWait = errors.New("the wait for the node that holds the writer lease")

// errCallerLeft rolls back a group one of whose callers gave up before COMMIT.
var errCallerLeft = errors.New("a caller left before COMMIT")

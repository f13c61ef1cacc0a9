// Package groupcommit is the write path every store shares. A store can
// commit only one append transaction at a time (that is what keeps positions
// in commit order), so one writer per store takes all the appends waiting at
// that moment into one transaction: it checks each request against the
// stream's state in order (idempotent retry first, then expected version and
// stream type), plans the rows of those that pass, and reports each request's
// own outcome after COMMIT. A store supplies only the SQL, through Backend.
package groupcommit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// Backend is the database side of the write path.
type Backend interface {
	// WriteTx runs fn in one transaction that holds the log's write lock from
	// its start to COMMIT, and commits if fn returns nil. beforeCommit, if not
	// nil, runs just before COMMIT (tests hold a transaction open with it).
	WriteTx(ctx context.Context, fn func(Tx) error, beforeCommit func()) error
	// Retryable reports an error after which the same transaction may succeed
	// (a deadlock, a lock wait timeout, a busy database).
	Retryable(err error) bool
	// Conflict reports a unique-key violation. Under the log lock only a
	// writer that bypasses it can cause one: the transaction is run again on
	// what is then committed, which tells a client's conflict (a stream
	// version or an event id now taken) from the store's own trouble.
	Conflict(err error) bool
	// Translate maps a driver error to the store's vocabulary
	// (eventstore.ErrUnavailable for an unreachable database).
	Translate(err error) error
	// WaitDurable returns once every commit up to position is durable. A
	// group that writes nothing (replays, conflicts) answers from what it
	// read, which may be another process's commit not yet on disk.
	WaitDurable(ctx context.Context, position int64) error
}

// Tx is one write transaction, holding the log's write lock.
type Tx interface {
	// Head returns the last assigned position and the time to stamp events
	// with: taken once the lock is held, and never before the time recorded
	// with the head (SetHead), so that times never decrease along the log.
	Head(ctx context.Context) (position int64, now time.Time, err error)
	// Streams reads the given streams; missing ones are left out.
	Streams(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]StreamState, error)
	// KnownEvents looks up event ids already in the log.
	KnownEvents(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]KnownEvent, error)
	// Insert writes events, in position order.
	Insert(ctx context.Context, rows []Row) error
	// SaveStreams writes the new state of the streams appended to.
	SaveStreams(ctx context.Context, streams []SavedStream) error
	// SetHead records the last assigned position and its time.
	SetHead(ctx context.Context, position int64, recordedAt time.Time) error
}

// StreamState is a stream as an append transaction sees it.
type StreamState struct {
	Type      string
	Version   int64
	CreatedAt time.Time
}

// KnownEvent is an event id already in the log: where it stands and what it
// holds, so that a retry can be told from a reuse of the id.
type KnownEvent struct {
	StreamID   uuid.UUID
	StreamType string
	Version    int64
	Position   int64
	RecordedAt time.Time
	Type       string
	Data       []byte
	Metadata   []byte
	// BatchSize is, on the first event of an append, how many events it
	// stored; 0 on the others; -1 where the log does not know (events
	// stored before it kept batch sizes).
	BatchSize int64
}

// differs names what of e (sent with streamType, "" for any) is not as
// stored, or returns "".
func (k KnownEvent) differs(e eventstore.NewEvent, streamType string) string {
	switch {
	case streamType != "" && streamType != k.StreamType:
		return "stream_type"
	case e.Type != k.Type:
		return "type"
	case !bytes.Equal(e.Data, k.Data):
		return "data"
	case !bytes.Equal(e.Metadata, k.Metadata):
		return "metadata"
	}
	return ""
}

// Row is one event to insert.
type Row struct {
	Position   int64
	StreamID   uuid.UUID
	StreamType string
	Version    int64
	Event      eventstore.NewEvent
	RecordedAt time.Time
	// BatchSize is the number of events of the append, on its first event; 0 on the others.
	BatchSize int64
}

// SavedStream is the new state of a stream a transaction appended to.
type SavedStream struct {
	ID uuid.UUID
	StreamState
	UpdatedAt time.Time
}

const (
	// maxGroupEvents bounds how many events one group transaction gathers.
	maxGroupEvents = 5000
	// txTimeout bounds one group transaction, lock waits included.
	txTimeout = 30 * time.Second
	// maxTxAttempts is how often a transaction that failed with a retryable
	// error is tried in all.
	maxTxAttempts = 3
)

var errClosed = fmt.Errorf("%w: the store is shutting down", eventstore.ErrUnavailable)

// Writer is a store's single writer.
type Writer struct {
	backend Backend
	log     *slog.Logger

	calls chan *call
	stop  chan struct{}
	done  chan struct{}

	// BeforeCommit, when set before the first Append, runs inside each group
	// transaction just before COMMIT. It is for tests.
	BeforeCommit func()
}

// New starts a writer; Close stops it.
func New(backend Backend, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{backend: backend, log: log, calls: make(chan *call), stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// Close finishes the group in progress, refuses new appends and returns
// when the writer has stopped.
func (w *Writer) Close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// call is one Append waiting for the writer.
type call struct {
	ctx       context.Context
	req       eventstore.AppendRequest
	clientIDs []uuid.UUID // ids the client chose; only these can repeat
	res       eventstore.AppendResult
	err       error
	done      chan struct{}
}

// Append implements eventstore.Store's Append for a store.
func (w *Writer) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := req.Validate(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, err)
	}
	c := &call{ctx: ctx, req: req, done: make(chan struct{})}
	c.req.Events = make([]eventstore.NewEvent, len(req.Events))
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
	select {
	case w.calls <- c:
	case <-ctx.Done():
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, ctx.Err())
	case <-w.stop:
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, errClosed)
	}
	// Once handed over, the append may commit: wait for the outcome even if
	// the caller gives up, so that what is reported is what happened.
	<-c.done
	if c.err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, c.err)
	}
	return c.res, nil
}

// loop is the only writer. While one group commits, the next requests queue
// up; they are then taken together into the next transaction.
func (w *Writer) loop() {
	defer close(w.done)
	for {
		var first *call
		select {
		case first = <-w.calls:
		case <-w.stop:
			return
		}
		group := []*call{first}
		n := len(first.req.Events)
	gather:
		for n < maxGroupEvents {
			select {
			case c := <-w.calls:
				group = append(group, c)
				n += len(c.req.Events)
			default:
				break gather
			}
		}
		w.commit(group)
	}
}

// commit writes a group and reports each call's outcome.
func (w *Writer) commit(group []*call) {
	defer func() {
		for _, c := range group {
			close(c.done)
		}
	}()
	live := unexpired(group)
	if len(live) == 0 {
		return
	}
	err := w.run(live)
	if err == nil {
		return
	}
	if len(live) > 1 && !errors.Is(err, eventstore.ErrUnavailable) {
		// Something in one request broke the shared transaction. Run each
		// request alone so that only the one at fault fails.
		w.log.Warn("group append failed; retrying its requests one at a time", "requests", len(live), "error", err)
		for _, c := range live {
			if len(unexpired([]*call{c})) == 1 {
				if err := w.run([]*call{c}); err != nil {
					c.err = err
				}
			}
		}
		return
	}
	for _, c := range live {
		if c.err == nil {
			c.err = err
		}
	}
}

// unexpired returns the calls whose callers still wait; the others get
// their context's error and are never written.
func unexpired(calls []*call) []*call {
	live := make([]*call, 0, len(calls))
	for _, c := range calls {
		if err := c.ctx.Err(); err != nil {
			c.err = fmt.Errorf("%w before it could be written", err)
			continue
		}
		live = append(live, c)
	}
	return live
}

// run runs a group transaction, again after a retryable failure, and stores
// each call's outcome once it has committed. A call whose caller gave up
// meanwhile is left out of the next try; run returns nil once no call is left.
func (w *Writer) run(calls []*call) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		if calls = unexpired(calls); len(calls) == 0 {
			return nil
		}
		var out []outcome
		out, err = w.transact(calls)
		if err == nil {
			for i, c := range calls {
				c.res, c.err = out[i].res, out[i].err
			}
			return nil
		}
		if !errors.Is(err, errCallerLeft) && !w.backend.Retryable(err) && !w.backend.Conflict(err) {
			break
		}
	}
	switch {
	case errors.Is(err, errCallerLeft):
		return nil // every caller left; each has its error
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: the write lock was not free within the request's time (%w)", eventstore.ErrUnavailable, err)
	case w.backend.Conflict(err):
		// Still taken on a fresh read: rows the log's head does not account for.
		return fmt.Errorf("a position or stream version this append needs is taken by a row the log head does not count: "+
			"something writes to the database without the log lock (%w)", err)
	}
	return w.backend.Translate(err)
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
func (w *Writer) transact(calls []*call) ([]outcome, error) {
	deadline := time.Now().Add(txTimeout)
	for _, c := range calls {
		if d, ok := c.ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	var out []outcome
	var readHead int64
	err := w.backend.WriteTx(ctx, func(tx Tx) error {
		head, now, err := tx.Head(ctx)
		if err != nil {
			return err
		}
		readHead = head
		p := plan{head: head, now: now}
		if err := p.load(ctx, tx, calls); err != nil {
			return err
		}
		out = make([]outcome, len(calls))
		for i, c := range calls {
			out[i] = p.apply(c)
		}
		if p.head == head {
			return errNothingToWrite
		}
		if err := tx.Insert(ctx, p.rows); err != nil {
			return err
		}
		if err := tx.SaveStreams(ctx, p.saved()); err != nil {
			return err
		}
		if err := tx.SetHead(ctx, p.head, p.now); err != nil {
			return err
		}
		for _, c := range calls {
			if c.ctx.Err() != nil {
				return errCallerLeft
			}
		}
		return nil
	}, w.BeforeCommit)
	if errors.Is(err, errNothingToWrite) {
		// Every request was refused or a replay: the transaction rolled back.
		// A commit of ours would have made what it read durable; without one,
		// wait until it is.
		if err := w.backend.WaitDurable(ctx, readHead); err != nil {
			return nil, err
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// errNothingToWrite rolls back a group whose every request was refused.
var errNothingToWrite = errors.New("nothing to write")

// errCallerLeft rolls back a group one of whose callers gave up before COMMIT.
var errCallerLeft = errors.New("a caller left before COMMIT")

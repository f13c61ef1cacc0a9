package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// reader reads the event tables on one pool.
type reader struct {
	db *sql.DB
	// translate maps the driver's errors to the store's vocabulary.
	translate func(error) error
	// waitDurable, if set, returns once every commit up to a position is
	// durable: each read calls it with the last position its answer rests
	// on, before answering.
	waitDurable func(ctx context.Context, position int64) error
	m           *metrics.Metrics
	// checkVisible: reads of recent events look for missing positions.
	checkVisible bool
	// sizes sizes the first chunk of a range by the events read before.
	sizes *eventSizes
	// typePairIndex is the dialect's TypePairIndex.
	typePairIndex string
	// indexHint is the dialect's IndexHint.
	indexHint string
	// replan is the dialect's Replan.
	replan func(ctx context.Context, conn *sql.Conn, err error) (sent, again bool)
	// readAgain is the dialect's ReadAgain (query), and againWithin its
	// DriverReadTimeout: a statement that failed no sooner is not sent again.
	readAgain   func(error) bool
	againWithin time.Duration
	// timeout bounds each read statement (readTimeout if 0).
	timeout time.Duration
	// check, if set, is the dialect's CheckRead, which each event read is
	// given with its checksum (see cols).
	check func(eventstore.Event, sql.NullInt64) error
	// ahead, if not nil, reads the next page of a read that follows next
	// links while its client is busy with this one (ahead.go).
	ahead *readAhead
	// hooks are the tests' (export_test.go); never nil in a Store's reader.
	hooks *readHooks
	// readsLag is the dialect's ReadsLag.
	readsLag bool
	// heads, if not nil, makes the reads of the head that wait at once one
	// query (the read pool's; the live feed's reads its own).
	heads *sharedHead
	// stall, if not nil, refuses each statement before it takes a
	// connection while the database does not answer (stall.go).
	stall *stallWatch
	// durableStall, if not nil, ends a wait for durability (durable) once
	// the writer's database does not answer: the reads' watch only where
	// they are on its database, not a read replica's.
	durableStall *stallWatch
	// rowMissing, if set, is told of a stream read whose row of streams is
	// missing (the writer's dropSnapshots, which returns at once).
	rowMissing func()
	// sawVersion, if set, is told of each stream read, at the version it
	// found and the time the read began (the writer's sawVersion).
	sawVersion func(id uuid.UUID, version int64, started time.Time)
}

// readHooks let tests act at a point of a read.
type readHooks struct {
	beforeVisible atomic.Pointer[func()]
}

// run runs the hook in h, if any.
func run(h *atomic.Pointer[func()]) {
	if f := h.Load(); f != nil {
		(*f)()
	}
}

// cols are the columns an event is read with: eventColumns, and, where
// events are checked, the checksum last.
func (s reader) cols() string {
	if s.check == nil {
		return eventColumns
	}
	return eventColumns + ", checksum"
}

// readTimeout bounds each read statement, whatever its caller's context: a
// page read over HTTP has the request's timeout (30 s by default), but a
// subscription's read of history and the live feed's of the log come with
// contexts that never end, and a statement that stalled (behind a table
// lock, on a plan that reads a whole index) held its connection, and the
// subscription, for ever. Ended, it is an error the caller retries or
// answers 503. As the writer's txTimeout bounds a group's transaction.
const readTimeout = 30 * time.Second

// bound returns ctx bounded for one read statement; call cancel once its
// rows are read.
func (s reader) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.timeout
	if d <= 0 {
		d = readTimeout
	}
	return context.WithTimeout(ctx, d)
}

// again reports whether a read statement sent at sent that failed with err
// is sent once more (see eachRow): not if it failed no sooner than the
// driver's own read timeout, which it may have run out.
func (s reader) again(ctx context.Context, err error, sent time.Time) bool {
	return err != nil && s.readAgain != nil && ctx.Err() == nil && s.readAgain(err) &&
		(s.againWithin <= 0 || time.Since(sent) < s.againWithin)
}

// query sends one read statement on the read pool, once (twice where the
// dialect's Replan has it sent again, each sending counted as kind, and
// Replan's own statement as "replan"), under ctx, which cancel ends (the
// read's bound: see eachRow); call done on what it returns once its rows
// are closed (on an error too): it returns the stall's error where a stall
// began while the statement was under way (see take), nil otherwise.
// queryRow is query for one row: done once it is scanned. eachRow and
// scanRow are the reads' ways in, which send a statement again where it
// was lost (see eachRow).
//
// Where a stall watch is, the statement's connection is taken first
// (take), and a wait for one, each in use (by reads stuck in a database
// that does not answer, say), ends when a stall begins: the read is
// refused then, nothing of it sent, not at its deadline. database/sql's
// retries of a connection found gone are kept: taking one checks it (the
// driver's ResetSession), and a statement that finds it gone, nothing
// sent (driver.ErrBadConn), goes again on the pool, which retries.
func (s reader) query(ctx context.Context, cancel context.CancelFunc, kind string, q string, args ...any) (rows *sql.Rows, h held, err error) {
	h, err = s.take(ctx, cancel)
	if err == nil && h.conn == nil && s.replan != nil {
		// The statement's own connection: one that fails it may be
		// given it again (replan).
		h.conn, err = s.db.Conn(ctx)
	}
	if err != nil || h.conn == nil {
		if err == nil {
			rows, err = s.db.QueryContext(ctx, q, args...)
		}
		return rows, h, err
	}
	if rows, err = h.conn.QueryContext(ctx, q, args...); errors.Is(err, driver.ErrBadConn) {
		h.conn.Close()
		h.conn = nil
		rows, err = s.db.QueryContext(ctx, q, args...)
		return rows, h, err
	}
	if err != nil && s.replan != nil {
		sent, again := s.replan(ctx, h.conn, err)
		if sent {
			s.m.Statement("replan")
		}
		if again {
			s.m.Statement(kind) // sent again: counted again
			rows, err = h.conn.QueryContext(ctx, q, args...)
		}
	}
	return rows, h, err
}

// scanRow sends a read statement for one row and scans it with scan,
// giving its connection back after (see eachRow), counting each sending
// as a statement of kind. A statement whose
// connection was lost before its answer, or midway through its row (a row
// of an event's data, say), is sent once more on another connection, and
// scan called again: nothing of the row has left the read. One that a
// stall's beginning cut (take) is not: it returns the stall's error. Its
// sendings are bound together, as eachRow's.
func (s reader) scanRow(ctx context.Context, kind string, scan func(*sql.Row) error, q string, args ...any) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	s.m.Statement(kind)
	sent := time.Now()
	row, h, err := s.queryRow(ctx, cancel, q, args...)
	if err == nil {
		err = scan(row)
	}
	if cut := h.done(); cut != nil && s.cutBy(err) {
		return cut
	}
	if s.again(ctx, err, sent) {
		s.m.Statement(kind) // sent again: counted again
		row, h, err = s.queryRow(ctx, cancel, q, args...)
		if err == nil {
			err = scan(row)
		}
		if cut := h.done(); cut != nil && s.cutBy(err) {
			return cut
		}
	}
	return err
}

// queryRow is query for one row: see query.
func (s reader) queryRow(ctx context.Context, cancel context.CancelFunc, q string, args ...any) (row *sql.Row, h held, err error) {
	h, err = s.take(ctx, cancel)
	if err != nil {
		return nil, h, err
	}
	if h.conn == nil {
		return s.db.QueryRowContext(ctx, q, args...), h, nil
	}
	if row = h.conn.QueryRowContext(ctx, q, args...); errors.Is(row.Err(), driver.ErrBadConn) {
		h.conn.Close()
		h.conn = nil
		return s.db.QueryRowContext(ctx, q, args...), h, nil
	}
	return row, h, nil
}

// cutBy reports whether err, a statement's, is what the driver says of
// one whose context ended under it (its connection closed): where a
// stall's beginning ended it (take), the statement failed for the stall.
// An answer the statement had (no row, a row the scan refused) is not.
func (s reader) cutBy(err error) bool {
	return err != nil && (errors.Is(err, context.Canceled) || (s.readAgain != nil && s.readAgain(err)))
}

// errStopRows, returned by eachRow's each, stops the rows there: the read
// has what it needs.
var errStopRows = errors.New("enough rows")

// eachRow sends a read statement (query) and hands each row of its answer
// to each, which returns errStopRows to stop there, or an error of its
// own, which ends the read and is returned as it is; the driver's errors
// are returned translated, its connection given back first. start is
// called before the statement is sent, to drop what the rows handed on
// left. A statement whose connection was lost under it once it had gone
// out, before its answer or midway through its rows (readAgain: a
// connection a proxy or the server closed while it sat idle in the pool,
// which the driver's check did not see, fails as mysql.ErrInvalidConn,
// which database/sql does not retry), is sent once more on another
// connection, start called again: a read is idempotent, and keeps every
// row before it answers (no row of it has reached its caller). Never after
// its context ended, nor past the driver's own read timeout (again). Each
// sending is counted as a statement of kind. The sendings are bound
// together by the read timeout (bound), whose context a stall's beginning
// ends too (take).
func (s reader) eachRow(ctx context.Context, kind string, start func(), each func(*sql.Rows) error, q string, args ...any) error {
	ctx, cancel := s.bound(ctx)
	defer cancel()
	for sent := 0; ; sent++ {
		start()
		s.m.Statement(kind)
		began := time.Now()
		rows, h, err := s.query(ctx, cancel, kind, q, args...)
		own := false
		if err == nil {
			for rows.Next() {
				if err = each(rows); err != nil {
					own = !errors.Is(err, errStopRows)
					break
				}
			}
			if err == nil || errors.Is(err, errStopRows) {
				err = rows.Err()
			}
			rows.Close()
		}
		// Given back before err is translated: MySQL's translation of a
		// table missing looks for the database on a session of its own,
		// for up to seconds, while every other read waited for this one.
		cut := h.done()
		switch {
		case own:
			return err
		case err == nil:
			return nil
		case cut != nil && s.cutBy(err):
			return cut // never sent again: the stall goes on
		case sent == 0 && s.again(ctx, err, began):
			continue
		}
		return s.translate(err)
	}
}

// held is what a read's statement holds while it runs (take): its own
// connection, if any, and its place in the stall watch, if any. A value,
// not a closure: the statement's hold costs no allocation.
type held struct {
	conn  *sql.Conn
	stall *stallWatch
	id    uint64
}

// done gives the statement's connection back and ends its watch: it
// returns the stall's error (cut) where a stall began while the statement
// was under way, else nil.
func (h held) done() error {
	if h.conn != nil {
		h.conn.Close()
	}
	if h.stall == nil {
		return nil
	}
	if se := h.stall.unwatch(h.id); se != nil {
		return se.cut()
	}
	return nil
}

// take takes the connection of the read pool for one statement, under ctx
// (the read's bound, which cancel ends), waiting for a free one by ctx's
// end, or a stall's beginning: then it returns the stall's refusal. It
// returns no connection without a stall watch: the statement takes its
// own on the pool. A stall's beginning cancels ctx (its connection then
// closed by the driver, its rows ended): a read is safe to fail and to
// retry, and one that waits on a database that does not answer is answered
// then, as the reads not yet begun are, not at its deadline (30 s) or
// whenever the database answers again. Call done on what it returns once
// the statement is done: it returns the stall's error, for a statement
// under way, where a stall ended ctx, else nil. (An append's statements
// are never cut so: its outcome would be unknown.) The watch holds
// cancel itself (stallWatch.watch), not a context of its own made for
// each statement, with its closures: those cost six allocations a
// statement.
func (s reader) take(ctx context.Context, cancel context.CancelFunc) (held, error) {
	if s.stall == nil {
		return held{}, nil
	}
	id, err := s.stall.watch(cancel)
	if err != nil {
		return held{}, err
	}
	conn, err := s.db.Conn(ctx)
	if ctx.Err() != nil {
		if se := s.stall.cutOf(id); se != nil {
			// The stall began before the statement went: refused, though
			// a connection came meanwhile.
			s.stall.unwatch(id)
			if conn != nil {
				conn.Close()
			}
			return held{}, se
		}
	}
	if err != nil {
		s.stall.unwatch(id)
		return held{}, err
	}
	return held{conn: conn, stall: s.stall, id: id}, nil
}

// durable waits until position is durable, where that needs waiting. The
// wait ends once a stall begins, if it needs the database: nothing can
// confirm durability then, and the read is answered at once, not at its
// deadline.
func (s reader) durable(ctx context.Context, position int64) error {
	if s.waitDurable == nil {
		return nil
	}
	if s.durableStall == nil {
		return s.waitDurable(ctx, position)
	}
	return s.durableStall.waitDurable(ctx, s.waitDurable, position)
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

const eventColumns = "position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at"

// streamColumns are a stream's, and the position of its last event. A
// stream's row holds its type and creation time; its version and updated_at
// are its last event's, found by the index on (stream_id, stream_version):
// streamFrom joins each stream's, streamLast (after a WHERE on s, and
// before LIMIT 1) one stream's. Each reads one index entry for the version
// however long the stream; MariaDB turns MAX(stream_version) into a read of
// every entry of a listed stream, and, for one stream, a scan of events.
const (
	streamColumns = "s.stream_id, s.stream_type, e.stream_version, s.created_at, e.recorded_at, e.position"
	streamFrom    = " FROM streams s JOIN events e ON e.stream_id = s.stream_id AND e.stream_version = " +
		"(SELECT m.stream_version FROM events m WHERE m.stream_id = s.stream_id ORDER BY m.stream_version DESC LIMIT 1)"
	// streamOne reads one stream from its last event, its row of streams
	// joined (NULL if missing: errStreamRowMissing), and the log's head
	// (headScan), after a WHERE on e.
	streamOne = "SELECT e.stream_id, s.stream_type, e.stream_version, s.created_at, e.recorded_at, e.position, " + headColumn + " FROM events e " +
		"LEFT JOIN streams s ON s.stream_id = e.stream_id"
	streamLast = " ORDER BY e.stream_version DESC"
)

// mendStreamRows makes again the rows of streams that are missing while
// their events are there, each from its stream's first event: its type,
// and its time as the stream's creation.
const mendStreamRows = "INSERT INTO streams (stream_id, stream_type, created_at) SELECT e.stream_id, e.stream_type, e.recorded_at " +
	"FROM events e WHERE e.stream_version = 1 AND NOT EXISTS (SELECT 1 FROM streams s WHERE s.stream_id = e.stream_id)"

// streamRowMissing is the error of an append to, or a read of, stream id
// whose events are there but whose row of streams is not (a restore from
// dumps taken apart, a DELETE by hand): damage, which no retry mends,
// never a stream taken for new (whose first version is taken) or not found.
func streamRowMissing(id uuid.UUID) error {
	return fmt.Errorf("%w: %w: stream %s has events but its row of the table streams is missing (a restore from dumps taken apart, "+
		"or a DELETE by hand): nothing is appended to it or read from it until the row is made again; mend it with %s",
		eventstore.ErrUnavailable, eventstore.ErrDamaged, id, mendStreamRows)
}

// Stream implements eventstore.Store.
func (s reader) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	st, _, err := s.stream(ctx, id)
	return st, err
}

// stream reads a stream and the position of its last event: one round
// trip. (The count of the positions below it that ReadStream looks at for
// a stream written to lately is a query of its own, visibleUpTo: in the
// same statement, where the last event is no constant, MariaDB counts
// through a whole index of events.)
func (s reader) stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, int64, error) {
	if err := s.stall.err(); err != nil {
		return eventstore.Stream{}, 0, fmt.Errorf("read stream %s: %w", id, err)
	}
	started := time.Now()
	var st eventstore.Stream
	var last int64
	var head sql.NullInt64
	err := s.scanRow(ctx, "read_stream", func(row *sql.Row) (err error) {
		st, last, err = scanStream(headScan{row, &head})
		return err
	}, streamOne+" WHERE e.stream_id = ?"+streamLast+" LIMIT 1", id[:])
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Stream{}, 0, fmt.Errorf("stream %s: %w", id, eventstore.ErrStreamNotFound)
	}
	if errors.Is(err, errNoStreamRow) {
		if s.rowMissing != nil {
			s.rowMissing()
		}
		return eventstore.Stream{}, 0, fmt.Errorf("read stream %s: %w", id, streamRowMissing(id))
	}
	if err != nil {
		return eventstore.Stream{}, 0, fmt.Errorf("read stream %s: %w", id, s.translate(err))
	}
	// Its last event past the head: every page of the stream carries a
	// version that counts it, as a page of the log would carry the event.
	if err := pastHead(head, last); err != nil {
		return eventstore.Stream{}, 0, fmt.Errorf("read stream %s: %w", id, err)
	}
	if s.sawVersion != nil {
		s.sawVersion(id, st.Version, started)
	}
	if err := s.durable(ctx, last); err != nil {
		return eventstore.Stream{}, 0, fmt.Errorf("read stream %s: %w", id, err)
	}
	return st, last, nil
}

// Positions are dense and become visible in commit order, almost: InnoDB
// can release the log's lock a moment before readers see the commit that
// held it, so for that moment a later commit can be visible while an earlier
// one is not. A read that answered from that moment would skip the earlier
// commit for good (a client's next page starts after what it got). So a read
// of recent events answers only up to the last position below which none is
// missing, looking at the visibleWindow positions below its last one; a hole
// whose next event is older than holePatience is taken as rows removed by
// hand, not a commit on its way.
const (
	visibleWindow = 1000
	// visibleSpan: a log page's check looks from its after (a gap at its
	// start, under a page of a thousand events committed just after it),
	// but no further than this below its last event: a filtered page may
	// span millions of positions, and a commit on its way lies near the
	// head.
	visibleSpan  = 4 * visibleWindow
	holePatience = 5 * time.Second
	// recentEnough: older events cannot be part of a commit on its way
	// (with room for the database's and this process's clocks to differ).
	recentEnough = time.Minute
)

// recent reports whether t, a time stamped by the writer, is close to now.
func recent(t time.Time) bool {
	d := time.Since(t)
	return d < recentEnough && d > -recentEnough
}

// visibleUpTo returns the highest position up to hi below which no position
// is missing.
func (s reader) visibleUpTo(ctx context.Context, lo, hi int64) (int64, error) {
	if err := s.stall.err(); err != nil {
		return 0, err
	}
	// Nearly always every position is there: one count says so.
	var n int64
	err := s.scanRow(ctx, "read_visible", func(row *sql.Row) error { return row.Scan(&n) }, "SELECT COUNT(*) FROM events WHERE position > ? AND position <= ?", lo, hi)
	if err != nil {
		return 0, s.translate(err)
	}
	if n == hi-lo {
		return hi, nil
	}
	var next, gap int64 // gap: the position before one on its way, if found
	err = s.eachRow(ctx, "read_visible", func() { next, gap = lo+1, -1 }, func(rows *sql.Rows) error {
		var p int64
		var at time.Time
		if err := rows.Scan(&p, &at); err != nil {
			return err
		}
		if p != next && time.Since(at) < holePatience {
			gap = next - 1 // next is on its way
			return errStopRows
		}
		next = p + 1
		return nil
	}, "SELECT position, recorded_at FROM events WHERE position > ? AND position <= ? ORDER BY position", lo, hi)
	if err != nil {
		return 0, err
	}
	if gap >= 0 {
		return gap, nil
	}
	if next <= hi {
		return next - 1, nil
	}
	return hi, nil
}

// checkFrom is where a log page after after whose last event is at last
// looks for missing positions: see visibleSpan.
func checkFrom(after, last int64) int64 {
	return max(min(after, last-visibleWindow), last-visibleSpan, 0)
}

// waitVisible waits, briefly, until no position up to last is missing.
func (s reader) waitVisible(ctx context.Context, last int64) error {
	for wait := time.Millisecond; ; wait *= 2 {
		bound, err := s.visibleUpTo(ctx, max(last-visibleWindow, 0), last)
		if err != nil || bound >= last {
			return err
		}
		if wait > holePatience {
			return fmt.Errorf("%w: position %d is not visible yet below %d", eventstore.ErrUnavailable, bound+1, last)
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// errNoStreamRow is scanStream's for a stream whose row of streams is
// missing: its type and creation time NULL.
var errNoStreamRow = errors.New("the stream's row of streams is missing")

// scanStream scans streamColumns (or streamOne's).
func scanStream(row interface{ Scan(...any) error }) (eventstore.Stream, int64, error) {
	var raw []byte
	var st eventstore.Stream
	var last int64
	var typ sql.NullString
	var created sql.NullTime
	if err := row.Scan(&raw, &typ, &st.Version, &created, &st.UpdatedAt, &last); err != nil {
		return eventstore.Stream{}, 0, err
	}
	if !typ.Valid || !created.Valid {
		return eventstore.Stream{}, 0, errNoStreamRow
	}
	st.Type, st.CreatedAt = typ.String, created.Time
	id, err := uuid.FromBytes(raw)
	if err != nil {
		return eventstore.Stream{}, 0, fmt.Errorf("stream id: %w", err)
	}
	st.ID = id
	return st, last, nil
}

// ReadStream implements eventstore.Store. The page is bounded by the version
// read first, so the events and the description agree even while appends go on.
func (s reader) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	st, last, err := s.stream(ctx, id)
	if err != nil {
		return eventstore.StreamPage{}, err
	}
	if s.checkVisible && recent(st.UpdatedAt) {
		if err := s.waitVisible(ctx, last); err != nil {
			return eventstore.StreamPage{}, fmt.Errorf("read stream %s: %w", id, err)
		}
	}
	page := eventstore.StreamPage{Stream: st}
	limit := int64(eventstore.PageLimit(opts.Limit))
	r := eventRange{what: "read stream " + id.String(), where: "stream_id = ?", args: []any{id[:]}, key: "stream_version"}
	if opts.Direction == eventstore.Backward {
		from := opts.From
		if from == 0 || from > st.Version {
			from = st.Version
		}
		to := max(from-limit+1, 1)
		if to > 1 {
			page.Next = to - 1
		}
		r.lo, r.hi, r.desc, r.rows = to, from, true, from-to+1
		if opts.FirstOnly {
			r.lo, r.rows = max(to, from), min(r.rows, 1)
		}
		page.Events = s.readRange(ctx, r)
		return page, nil
	}
	from := max(opts.From, 1)
	to := st.Version // the page ends at the stream's end, or earlier:
	if from <= st.Version && st.Version-from >= limit {
		to = from + limit - 1 // cannot overflow: it is below st.Version
	}
	if from <= st.Version && to < st.Version {
		page.Next = to + 1
	}
	r.lo, r.hi, r.rows = from, to, to-from+1
	if opts.FirstOnly {
		r.hi, r.rows = min(to, from), min(r.rows, 1)
		page.Events = s.readRange(ctx, r)
	} else if p := s.ahead.take(ctx, aheadKey{stream: id, lo: from, hi: to}); p != nil {
		page.Events = p.seq()
	} else {
		page.Events = s.readRange(ctx, r)
	}
	if opts.ReadAhead && page.Next != 0 {
		// The next page, as the next request will ask for it if the stream
		// has not grown: versions that all exist now.
		next := r
		next.lo, next.hi = page.Next, min(st.Version, page.Next+limit-1)
		next.rows = next.hi - next.lo + 1
		s.ahead.start(aheadKey{stream: id, lo: next.lo, hi: next.hi}, func(ctx context.Context) ([]eventstore.Event, int64, bool) {
			events, ok := collect(s.readRange(ctx, next))
			return events, 0, ok
		})
	}
	return page, nil
}

// Event implements eventstore.Store.
func (s reader) Event(ctx context.Context, streamID uuid.UUID, version int64) (eventstore.Event, error) {
	if err := s.stall.err(); err != nil {
		return eventstore.Event{}, fmt.Errorf("read event %d of stream %s: %w", version, streamID, err)
	}
	var e eventstore.Event
	var head sql.NullInt64
	err := s.scanRow(ctx, "read_event", func(row *sql.Row) (err error) {
		e, err = scanEvent(headScan{row, &head}, s.check)
		return err
	}, "SELECT "+s.cols()+", "+headColumn+" FROM events WHERE stream_id = ? AND stream_version = ?", streamID[:], version)
	if errors.Is(err, sql.ErrNoRows) {
		return eventstore.Event{}, fmt.Errorf("event %d of stream %s: %w", version, streamID, eventstore.ErrEventNotFound)
	}
	if err != nil {
		return eventstore.Event{}, fmt.Errorf("read event %d of stream %s: %w", version, streamID, s.translate(err))
	}
	if err := pastHead(head, e.Position); err != nil {
		return eventstore.Event{}, fmt.Errorf("read event %d of stream %s: %w", version, streamID, err)
	}
	if err := s.durable(ctx, e.Position); err != nil {
		return eventstore.Event{}, fmt.Errorf("read event %d of stream %s: %w", version, streamID, err)
	}
	return e, nil
}

// EventPosition implements eventstore.Store: Event's position alone, its
// data not read (a stream subscription from a version starts after the
// event before it: read whole, an event of 1 MiB cost a MiB at each start).
func (s reader) EventPosition(ctx context.Context, streamID uuid.UUID, version int64) (int64, error) {
	var position int64
	var head sql.NullInt64
	// The head in the same statement (headColumn): a subscription started
	// after an event past it would be handed positions the next appends
	// take, as Event says. Through scanRow, as every read: it went straight
	// to the pool, and so waited its whole bound (30 s) on a database that
	// does not answer, where the other reads are answered when the stall
	// begins.
	err := s.scanRow(ctx, "read_event_position", func(row *sql.Row) error { return row.Scan(&position, &head) },
		"SELECT position, "+headColumn+" FROM events WHERE stream_id = ? AND stream_version = ?", streamID[:], version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("event %d of stream %s: %w", version, streamID, eventstore.ErrEventNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("read the position of event %d of stream %s: %w", version, streamID, s.translate(err))
	}
	if err := pastHead(head, position); err != nil {
		return 0, fmt.Errorf("read the position of event %d of stream %s: %w", version, streamID, err)
	}
	if err := s.durable(ctx, position); err != nil {
		return 0, fmt.Errorf("read the position of event %d of stream %s: %w", version, streamID, err)
	}
	return position, nil
}

// ReadAll implements eventstore.Store. It first finds the page's positions
// (limit+1 of them, to know whether more remain), then streams the events up
// to the last of them. Positions are assigned in commit order, so no event can
// later appear below a position already seen: the two queries agree.
func (s reader) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	opts.Limit = eventstore.PageLimit(opts.Limit)
	if s.ahead == nil {
		return s.readAll(ctx, opts)
	}
	var page eventstore.LogPage
	var err error
	// A FirstOnly read (HEAD) leaves a page read ahead for the GET.
	var p *aheadPage
	if !opts.FirstOnly {
		p = s.ahead.take(ctx, logKey(opts))
	}
	if p != nil {
		page = eventstore.LogPage{Last: p.last, More: true, Events: p.seq()}
	} else {
		page, err = s.readAll(ctx, opts)
	}
	if err == nil && opts.ReadAhead && page.More {
		// The next page, kept only if it is full: one that reaches the
		// head could be answered differently a moment later.
		next := opts
		next.After, next.FirstOnly = page.Last, false
		s.ahead.start(logKey(next), func(ctx context.Context) ([]eventstore.Event, int64, bool) {
			p, err := s.readAll(ctx, next)
			if err != nil || !p.More {
				return nil, 0, false
			}
			events, ok := collect(p.Events)
			return events, p.Last, ok && len(events) == next.Limit
		})
	}
	return page, err
}

// readAll is ReadAll without reading ahead; opts.Limit is set.
//
// A read up to a position (opts.UpTo: a subscription catching up to the
// head the live feed has) takes a page with nothing more after it as
// everything up to that position. Where the clients' reads may be on
// another server than the feed's, a moment behind it (readsLag: a Galera
// cluster, whose feed reads wait for their node to apply the cluster's
// commits and whose clients' reads do not), the page could end short of
// the head, and the subscription would move past the events it lacked: so
// there the read first reads the head its server has, and says that more
// follow while that is below UpTo. First: a node that applied the missing
// commits between the page and a later look would make a short page look
// whole. (log_head rather than the events: a row removed by hand at the
// head would otherwise be waited for for ever.)
func (s reader) readAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if opts.UpTo <= 0 || !s.readsLag {
		return s.readPage(ctx, opts)
	}
	if err := s.stall.err(); err != nil {
		return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, err)
	}
	head, err := s.readHead(ctx)
	if err != nil {
		return eventstore.LogPage{}, fmt.Errorf("read log after %d: its head: %w", opts.After, s.translate(err))
	}
	page, err := s.readPage(ctx, opts)
	if err == nil && head < opts.UpTo {
		page.More = true
	}
	return page, err
}

// readPage reads a page of the log; opts.Limit is set.
func (s reader) readPage(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	from := s.logFrom(opts)
	where, args := logFilter(opts)
	what := fmt.Sprintf("read log after %d", opts.After)
	// A page of events as small as those read lately is read in one query,
	// with one row more to tell whether more follow. Otherwise (or if they
	// turn out larger) the page's positions are read first, and its events
	// in chunks.
	// A FirstOnly read (HEAD) reads the positions, and the first event
	// alone.
	var events []eventstore.Event // the page's events, if read whole
	whole := false
	if s.sizes.firstChunk() >= opts.Limit && !opts.FirstOnly {
		query, qargs := s.pageQueryOf(s.cols(), opts, opts.Limit+1, true)
		var head sql.NullInt64
		// The row past the page only says that more follow: damage in it
		// (its checksum, past the head) is the next page's to meet.
		chunk, size, full, err := s.readRows(ctx, &rowScanner{check: s.check, checkRows: opts.Limit, head: &head}, 0, query, qargs...)
		if err == nil && len(chunk) > 0 {
			err = pastHead(head, chunk[min(len(chunk), opts.Limit)-1].Position)
		}
		if err != nil {
			return eventstore.LogPage{}, fmt.Errorf("%s: %w", what, err)
		}
		s.sizes.saw(len(chunk), size)
		events, whole = chunk, !full
	}
	var positions []int64
	var newest time.Time
	if whole {
		positions = make([]int64, len(events))
		for i, e := range events {
			positions[i], newest = e.Position, e.RecordedAt
		}
	} else {
		var err error
		if positions, newest, err = s.positions(ctx, opts, opts.Limit+1); err != nil {
			return eventstore.LogPage{}, fmt.Errorf("%s: %w", what, err)
		}
	}
	page := eventstore.LogPage{Last: opts.After, More: len(positions) > opts.Limit}
	if len(positions) == 0 {
		page.Events = func(func(eventstore.Event, error) bool) {}
		return page, nil
	}
	n := min(len(positions), opts.Limit) // the page's events
	page.Last = positions[n-1]
	if s.checkVisible && recent(newest) && !dense(positions, opts) {
		// Answer only the gapless part: see visibleUpTo. Every position up
		// to its bound was visible when it looked; but the positions read
		// before it may lack one that became visible only since (a commit
		// that was on its way), and a page answered from them would skip
		// it for good: they are read again up to the bound, where none can
		// be missing now.
		if s.hooks != nil {
			run(&s.hooks.beforeVisible)
		}
		bound, err := s.visibleUpTo(ctx, checkFrom(opts.After, page.Last), page.Last)
		if err != nil {
			return eventstore.LogPage{}, fmt.Errorf("%s: %w", what, err)
		}
		if bound <= opts.After {
			// Nothing below the missing position: the page ends where it
			// started, so that the next one reads it once visible. (A
			// bound of 0 would be no bound at all as an UpTo.)
			page.Last, page.More = opts.After, true
			page.Events = func(func(eventstore.Event, error) bool) {}
			return page, nil
		}
		upTo := opts
		if upTo.UpTo == 0 || bound < upTo.UpTo {
			upTo.UpTo = bound
		}
		again, _, err := s.positions(ctx, upTo, opts.Limit+1)
		if err != nil {
			return eventstore.LogPage{}, fmt.Errorf("%s: %w", what, err)
		}
		// More follow if the read found any past the bound, or finds more
		// than a page below it.
		page.More = page.More || positions[len(positions)-1] > bound || len(again) > opts.Limit
		if whole && !slices.Equal(again, positions[:min(len(again), len(positions))]) {
			whole = false // the events read with the first positions are not the page's
		}
		positions = again
		n = min(len(positions), opts.Limit)
		if n == 0 {
			// Nothing below the missing position: the page ends where it
			// started, so that the next one reads it once visible.
			page.Last = opts.After
			page.Events = func(func(eventstore.Event, error) bool) {}
			return page, nil
		}
		page.Last = positions[n-1]
	}
	if err := s.durable(ctx, page.Last); err != nil {
		return eventstore.LogPage{}, fmt.Errorf("%s: %w", what, err)
	}
	if whole {
		page.Events = func(yield func(eventstore.Event, error) bool) {
			for _, e := range events[:n] {
				if !yield(e, nil) {
					return
				}
			}
		}
		return page, nil
	}
	r := eventRange{what: what, from: from, where: where, args: args, key: "position", lo: positions[0], hi: page.Last, rows: int64(n)}
	if len(opts.StreamTypes) > 0 || len(opts.EventTypes) > 0 || opts.StreamID != uuid.Nil {
		// A filter on names, or one stream, may match few of the positions
		// between the page's first and last, and a database may read them
		// all (the primary key's range) to find its matches: read the
		// page's, by key.
		r.positions = positions[:n]
	}
	if opts.FirstOnly {
		r.hi, r.rows = r.lo, 1
		if r.positions != nil {
			r.positions = r.positions[:1]
		}
	}
	page.Events = s.readRange(ctx, r)
	return page, nil
}

// positionColumns are what positions reads of each event where the check
// for commits not yet visible needs the time of a page's newest.
const positionColumns = "position, recorded_at"

// positionCols are what positions reads of each event: with recorded_at
// only where the check for commits not yet visible needs it. On SQLite
// recorded_at lies after data in the row, and reading it walked each
// event's overflow pages: a page of events of 500 KB read every megabyte
// after its start, up to 250 MB, to find its positions.
func (s reader) positionCols() string {
	if s.checkVisible {
		return positionColumns
	}
	return "position"
}

// logQuery reads cols of the events a log filter (logFrom, logFilter)
// matches, in position order, up to a LIMIT, its last argument.
func logQuery(cols, from, where string) string {
	return "SELECT " + cols + from + " WHERE " + where + " ORDER BY position LIMIT ?"
}

// streamLogQuery is logQuery for a filter on one stream: in version order,
// which is its position order, so that the stream's unique index on
// (stream_id, stream_version) gives the rows in order and the read stops at
// the page's end. Ordered by position, SQLite searched that index and sorted
// the rest of the stream, data included, for each page: a stream
// subscription's catch-up cost the stream's size squared.
func streamLogQuery(cols, from, where string) string {
	return "SELECT " + cols + from + " WHERE " + where + " ORDER BY stream_version LIMIT ?"
}

// maxLogBranches caps the branches of pageQuery's UNION ALL. A filter
// holds up to 100 names of each kind (API.md), so up to 10,000 pairs:
// a statement of that many subqueries, each an index dive and (on
// MariaDB) a temporary table of up to a page, costs more to plan and run
// than most tails. Past the cap a read falls back to one query over the IN
// lists, which reads and sorts every match after the page's start, as
// before the branches.
const maxLogBranches = 32

// headColumn reads the log's head in the statement of a page (pageQueryOf):
// in its snapshot, so that an event past it is damage (pastHead), never a
// commit that moved the head since.
const headColumn = "(SELECT position FROM log_head WHERE id = 1)"

// headScan scans a row's columns, then the log's head (headColumn), which
// its statement reads last.
type headScan struct {
	row  interface{ Scan(...any) error }
	head *sql.NullInt64
}

func (h headScan) Scan(dest ...any) error { return h.row.Scan(append(dest, h.head)...) }

// pastHead returns the damage of a log head behind its events
// (headBehindRead) if last, the last position a page's statement read, is
// past head, that statement's read of it; nil if it is not, or if
// log_head's row is missing (NULL: the reads of the head say so). A commit
// moves the head with its events, so a sound log never shows one past it:
// it is one the head does not count (log_head edited by hand, tables
// restored from dumps taken apart), which the next appends' positions
// would take, and the live feed ends subscriptions on it. A page that
// returned it answered what a subscription calls damage.
func pastHead(head sql.NullInt64, last int64) error {
	if head.Valid && last > head.Int64 {
		return headBehindRead(head.Int64, last)
	}
	return nil
}

// pageQuery returns the query that reads cols of the first limit events
// a log read's filter matches, in position order, and its arguments, the
// LIMIT last.
//
// A filter on one stream type, one event type or one of each reads an
// index whose equality prefix leaves it in position order, and stops at
// the page's end. A filter on several names would read every match after
// the page's start to sort them (SQLite: a temp B-tree; MariaDB: a
// filesort), each page, so catching up over N matches cost N²/page: it is
// one branch per name (or pair of names), each the first limit matches of
// that name in its index's order, merged by an outer ORDER BY and LIMIT:
// a page costs at most a page a branch. (The branches are subqueries,
// since SQLite takes no ORDER BY or LIMIT on a compound's parts; what is
// sorted is at most a page a branch: SQLite sorts each branch's rows and
// merges them, MariaDB sorts them together.) A read of one stream, or with
// more branches than maxLogBranches, stays one query.
func (s reader) pageQuery(cols string, opts eventstore.ReadAllOptions, limit int) (string, []any) {
	return s.pageQueryOf(cols, opts, limit, false)
}

// pageQueryOf is pageQuery, and with head, each row has the log's head
// (headColumn) after cols.
func (s reader) pageQueryOf(cols string, opts eventstore.ReadAllOptions, limit int, head bool) (string, []any) {
	extra := ""
	if head {
		extra = ", " + headColumn
	}
	streamTypes, eventTypes := distinct(opts.StreamTypes), distinct(opts.EventTypes)
	n := max(len(streamTypes), 1) * max(len(eventTypes), 1)
	if opts.StreamID != uuid.Nil {
		where, args := logFilter(opts)
		return streamLogQuery(cols+extra, s.logFrom(opts), where), append(args, limit)
	}
	if n < 2 || n > maxLogBranches {
		where, args := logFilter(opts)
		return logQuery(cols+extra, s.logFrom(opts), where), append(args, limit)
	}
	// The index whose equality prefix is a branch's names, so that it
	// reads in position order.
	from := " FROM events"
	if s.indexHint != "" {
		index := "events_stream_type_event_type_position"
		switch {
		case len(eventTypes) == 0:
			index = "events_stream_type_position"
		case len(streamTypes) == 0:
			index = "events_event_type_position"
		}
		from += fmt.Sprintf(s.indexHint, index)
	}
	branchCols := cols
	if cols != positionColumns { // an event's: the events are joined to the branches' positions
		branchCols = "position"
	}
	outer := branchCols // what each branch of the union gives
	if branchCols == cols {
		outer += extra
	}
	var q strings.Builder
	var args []any
	one := opts
	i := 0
	for _, st := range namesOrAny(streamTypes) {
		for _, et := range namesOrAny(eventTypes) {
			one.StreamTypes, one.EventTypes = st, et
			if i > 0 {
				q.WriteString(" UNION ALL ")
			}
			where, a := logFilter(one)
			fmt.Fprintf(&q, "SELECT %s FROM (%s) b%d", outer, logQuery(branchCols, from, where), i)
			args = append(append(args, a...), limit)
			i++
		}
	}
	q.WriteString(" ORDER BY position LIMIT ?")
	args = append(args, limit)
	if branchCols == cols {
		return q.String(), args
	}
	return "SELECT " + columnsOf(cols, "e") + extra + " FROM (" + q.String() + ") p JOIN events e ON e.position = p.position ORDER BY p.position", args
}

// columnsOf is cols of the table called alias.
func columnsOf(cols, alias string) string {
	return alias + "." + strings.ReplaceAll(cols, ", ", ", "+alias+".")
}

// IndexedBy and ForceIndex are SQLite's and MySQL's IndexHint.
const (
	IndexedBy  = " INDEXED BY %s"
	ForceIndex = " FORCE INDEX (%s)"
)

// IndexedByTypePair is SQLite's TypePairIndex: the index on (stream_type,
// event_type, position) that the migrations create.
const IndexedByTypePair = " INDEXED BY events_stream_type_event_type_position"

// logFrom is the FROM clause of a log read: with the dialect's
// TypePairIndex where the read is filtered on one stream type and one
// event type, or on several of each, and not on a stream. Such a read
// then reads only the events of those pairs, whichever type is rare. One
// name against several is left to the planner: the single name's index
// reads in position order, and stops at the page's end, where the pairs'
// would read all their events after the page's start to sort them.
func (s reader) logFrom(opts eventstore.ReadAllOptions) string {
	st, et := len(opts.StreamTypes), len(opts.EventTypes)
	if s.typePairIndex == "" || st == 0 || et == 0 || (st == 1) != (et == 1) || opts.StreamID != uuid.Nil {
		return " FROM events"
	}
	return " FROM events" + s.typePairIndex
}

// positions returns the positions of the first limit events that match a log
// filter, and the recorded_at of the last where it is read (positionCols).
func (s reader) positions(ctx context.Context, opts eventstore.ReadAllOptions, limit int) ([]int64, time.Time, error) {
	var positions []int64
	var newest time.Time
	if err := s.stall.err(); err != nil {
		return nil, newest, err
	}
	cols := s.positionCols()
	query, args := s.pageQueryOf(cols, opts, limit, true)
	var p int64
	var head sql.NullInt64
	dest := []any{&p}
	if cols == positionColumns {
		dest = append(dest, &newest)
	}
	dest = append(dest, &head)
	err := s.eachRow(ctx, "read_positions", func() { positions, newest, head = positions[:0], time.Time{}, sql.NullInt64{} }, func(rows *sql.Rows) error {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		positions = append(positions, p)
		return nil
	}, query, args...)
	if err != nil {
		return nil, newest, err
	}
	// The position past the page (limit is the page's and one) only says
	// that more follow: past the head, it is the next page's damage.
	if n := min(len(positions), opts.Limit); n > 0 {
		if err := pastHead(head, positions[n-1]); err != nil {
			return nil, newest, err
		}
	}
	return positions, newest, nil
}

// dense reports whether positions, read for a page of the whole log (no
// filter), are every position after opts.After up to the page's last: then
// no commit below the last is missing, and the page needs no other check.
func dense(positions []int64, opts eventstore.ReadAllOptions) bool {
	if len(opts.StreamTypes) > 0 || len(opts.EventTypes) > 0 || opts.StreamID != uuid.Nil {
		return false
	}
	n := min(len(positions), opts.Limit)
	return positions[n-1]-opts.After == int64(n)
}

// logFilter builds the WHERE clause of a log read; values go in as arguments.
func logFilter(opts eventstore.ReadAllOptions) (string, []any) {
	where := "position > ?"
	args := []any{opts.After}
	if len(opts.StreamTypes) > 0 {
		where += " AND stream_type IN (" + placeholders(len(opts.StreamTypes)) + ")"
		for _, t := range opts.StreamTypes {
			args = append(args, t)
		}
	}
	if len(opts.EventTypes) > 0 {
		where += " AND event_type IN (" + placeholders(len(opts.EventTypes)) + ")"
		for _, t := range opts.EventTypes {
			args = append(args, t)
		}
	}
	if opts.StreamID != uuid.Nil {
		where += " AND stream_id = ?"
		args = append(args, opts.StreamID[:])
	}
	if opts.UpTo > 0 {
		where += " AND position <= ?"
		args = append(args, opts.UpTo)
	}
	return where, args
}

// Head implements eventstore.Store. log_head changes in the same transaction
// as the events it counts, so its committed value is the last visible position.
// The reads of the head that wait at once are one query (sharedHead).
func (s reader) Head(ctx context.Context) (int64, error) {
	var (
		head int64
		err  error
	)
	if err := s.stall.err(); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	if s.heads != nil {
		head, err = s.heads.read(ctx, s.readHead)
	} else {
		head, err = s.readHead(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("read log head: %w", s.translate(err))
	}
	if err := s.durable(ctx, head); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	return head, nil
}

// readHead is one query of the log's head.
func (s reader) readHead(ctx context.Context) (int64, error) {
	var head int64
	err := s.scanRow(ctx, "read_head", func(row *sql.Row) error { return row.Scan(&head) }, "SELECT position FROM log_head WHERE id = 1")
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errHeadRowMissing // as an append that finds it missing says
	}
	return head, err
}

// IDAt implements eventstore.LogTail, on the live feed's connections: the
// id of the event at position, without its data (the feed checks its head
// with it at each poll: read whole, a head event of 1 MiB cost a MiB a
// poll). It reads no data, so it checks no checksum: damage is found by
// the reads that hand the event out.
func (t logTail) IDAt(ctx context.Context, position int64) (uuid.UUID, error) {
	var raw []byte
	err := t.scanRow(ctx, "read_event_id", func(row *sql.Row) error { return row.Scan(&raw) }, "SELECT event_id FROM events WHERE position = ?", position)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, nil
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("read the event id at %d: %w", position, t.translate(err))
	}
	id, err := uuid.FromBytes(raw)
	if err != nil {
		return uuid.Nil, fmt.Errorf("read the event id at %d: %w", position, err)
	}
	return id, nil
}

// ListStreams implements eventstore.Store.
func (s reader) ListStreams(ctx context.Context, opts eventstore.ListStreamsOptions) (eventstore.StreamList, error) {
	opts.Limit = eventstore.PageLimit(opts.Limit)
	// The head in the same statement (headColumn): a stream listed at a
	// version that counts events past it is the damage, as its own reads
	// say (stream).
	q := "SELECT " + streamColumns + ", " + headColumn + streamFrom + " WHERE s.stream_id > ?"
	args := []any{opts.After[:]}
	if len(opts.StreamTypes) > 0 {
		q += " AND s.stream_type IN (" + placeholders(len(opts.StreamTypes)) + ")"
		for _, t := range opts.StreamTypes {
			args = append(args, t)
		}
	}
	q += " ORDER BY s.stream_id LIMIT ?"
	args = append(args, opts.Limit+1)
	if err := s.stall.err(); err != nil {
		return eventstore.StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	var list eventstore.StreamList
	var last int64
	var head sql.NullInt64
	err := s.eachRow(ctx, "list_streams", func() { list, last, head = eventstore.StreamList{}, 0, sql.NullInt64{} }, func(rows *sql.Rows) error {
		st, pos, err := scanStream(headScan{rows, &head})
		if err != nil {
			return err
		}
		if len(list.Streams) == opts.Limit {
			list.More = true // the row past the page: not listed
			return errStopRows
		}
		list.Streams = append(list.Streams, st)
		last = max(last, pos)
		return nil
	}, q, args...)
	if err != nil {
		return eventstore.StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	if err := pastHead(head, last); err != nil {
		return eventstore.StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	if err := s.durable(ctx, last); err != nil {
		return eventstore.StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	return list, nil
}

// A range is read in chunks of at most maxChunkRows rows, fewer when events
// are large: about chunkBytes of data a chunk, sized by the rows of the
// chunk before (the first by eventSizes), and cut at chunkBytes when they
// were smaller than the next.
const (
	minFirstChunkRows = 100
	maxChunkRows      = eventstore.MaxLimit
	chunkBytes        = 1 << 20
)

// eventSizes follows how large the events read lately were, to size the
// first chunk of a range: a page of small events is then one query rather
// than two. It rises at once with a chunk of larger events and falls slowly,
// so a store that holds some large events reads in small first chunks.
type eventSizes struct{ perEvent atomic.Int64 }

// firstChunk returns how many rows the first chunk of a range asks for.
func (z *eventSizes) firstChunk() int {
	per := z.perEvent.Load()
	if per <= 0 {
		return minFirstChunkRows // nothing read yet
	}
	return int(max(minFirstChunkRows, min(maxChunkRows, chunkBytes/per)))
}

// saw records a chunk of rows holding size bytes of data and metadata.
func (z *eventSizes) saw(rows, size int) {
	if rows == 0 {
		return
	}
	per := int64(max(size/rows, 1))
	for {
		old := z.perEvent.Load()
		next := per
		if old > per {
			next = old - (old-per)/16
		}
		if z.perEvent.CompareAndSwap(old, next) {
			return
		}
	}
}

// eventRange is a bounded range of events in the order of one key column.
type eventRange struct {
	what   string // for errors: "read stream …"
	from   string // " FROM events" if empty (see logFrom)
	where  string // the filter, with args
	args   []any
	key    string // position or stream_version
	lo, hi int64  // the key's bounds, inclusive
	desc   bool
	// rows is how many events the range held when its bounds were fixed:
	// its chunks make room for those, not for their LIMIT.
	rows int64
	// positions, if set, are the range's events (key position, ascending):
	// its chunks read them by key, not by the filter between the bounds.
	positions []int64
}

// byPositions reads cols of a chunk of the events at n positions: the
// positions, then the LIMIT (n).
func byPositions(cols string, n int) string {
	return "SELECT " + cols + " FROM events WHERE position IN (" + placeholders(n) + ") ORDER BY position LIMIT ?"
}

// query reads cols of a chunk of the range: its filter's arguments, then
// the chunk's bounds and LIMIT.
func (r eventRange) query(cols string) string {
	order := " ORDER BY " + r.key
	if r.desc {
		order += " DESC"
	}
	from := r.from
	if from == "" {
		from = " FROM events"
	}
	return "SELECT " + cols + from + " WHERE " + r.where + " AND " + r.key + " BETWEEN ? AND ?" + order + " LIMIT ?"
}

// readRange returns an iterator over the range. It reads a chunk of rows,
// releases the connection, and only then yields them: a caller that blocks
// between events (writing to a slow client) holds no connection and no read
// transaction, so slow clients can neither take the pool nor stop SQLite's
// checkpoints. The bounds were fixed by an earlier read, so the chunks
// together are what one query would have returned.
func (s reader) readRange(ctx context.Context, r eventRange) iter.Seq2[eventstore.Event, error] {
	return func(yield func(eventstore.Event, error) bool) {
		q := r.query(s.cols())
		lo, hi, n := r.lo, r.hi, s.sizes.firstChunk()
		left := r.rows
		rest := r.positions // those not read yet, if the range is of positions
		for lo <= hi {
			var args []any
			var part []int64 // the chunk's positions
			if r.positions == nil {
				args = append(r.args[:len(r.args):len(r.args)], lo, hi, n)
			} else {
				part = rest[:min(n, len(rest))]
				q, args = byPositions(s.cols(), len(part)), make([]any, 0, len(part)+1)
				for _, p := range part {
					args = append(args, p)
				}
				args = append(args, len(part))
			}
			chunk, size, full, err := s.readChunk(ctx, int(max(0, min(int64(n), left))), q, args...)
			if err != nil {
				yield(eventstore.Event{}, fmt.Errorf("%s: %w", r.what, err))
				return
			}
			s.sizes.saw(len(chunk), size)
			left -= int64(len(chunk))
			for _, e := range chunk {
				if !yield(e, nil) {
					return
				}
			}
			if r.positions != nil {
				// Past the chunk's positions, or, cut short by its bytes,
				// past its last event's.
				if full {
					part = part[:slices.Index(part, chunk[len(chunk)-1].Position)+1]
				}
				if rest = rest[len(part):]; len(rest) == 0 {
					return
				}
				if len(chunk) > 0 { // else all were removed (by hand)
					n = max(1, min(maxChunkRows, len(chunk)*chunkBytes/max(size, 1)))
				}
				continue
			}
			if !full && len(chunk) < n {
				return
			}
			last := chunk[len(chunk)-1]
			k := last.Position
			if r.key == "stream_version" {
				k = last.Version
			}
			if r.desc {
				hi = k - 1
			} else {
				lo = k + 1
			}
			n = max(1, min(maxChunkRows, len(chunk)*chunkBytes/max(size, 1)))
		}
	}
}

// firstChunkRoom is the rows a chunk makes room for at its first row when
// its caller does not know how many it holds; past them it makes room for an
// eighth of its limit, and past that for its whole limit. The live feed's
// tail reads the log after its head with a page's limit on every commit and
// finds that commit's events: one or two, or under load a group of 8 to 25.
// Room for the limit (500 events, 75 KB) made at each of those reads was four
// fifths of what a server with subscribers allocated, and a garbage
// collection every 40 ms at 500 appends/s. The eighth keeps a group's read
// small and costs a full page (a client's, catching up) an eighth more room,
// where doubling would cost it twice its room.
const firstChunkRoom = 8

// readChunk runs one chunk's query and returns its rows and their size. It
// keeps rows only until about chunkBytes of data (full then says it stopped
// before the end of the answer, whose rest the driver skips): a chunk sized
// by smaller events before it never holds a page of large ones in memory.
// expect is how many rows the caller knows the answer holds (0: it does not
// know, as a page's LIMIT is only a bound): room is made for them at once.
func (s reader) readChunk(ctx context.Context, expect int, query string, args ...any) (out []eventstore.Event, size int, full bool, err error) {
	return s.readRows(ctx, &rowScanner{check: s.check}, expect, query, args...)
}

// readRows is readChunk with the rows scanned by sc.
func (s reader) readRows(ctx context.Context, sc *rowScanner, expect int, query string, args ...any) (out []eventstore.Event, size int, full bool, err error) {
	if err := s.stall.err(); err != nil {
		return nil, 0, false, err
	}
	start := func() {
		out, size, full, sc.scanned = out[:0], 0, false, 0
		if sc.head != nil {
			*sc.head = sql.NullInt64{}
		}
	}
	err = s.eachRow(ctx, "read_events", start, func(rows *sql.Rows) error {
		e, err := sc.scan(rows)
		if err != nil {
			return err
		}
		if len(out) == cap(out) {
			limit, _ := args[len(args)-1].(int) // every chunk's query ends with LIMIT ?
			room := max(expect, firstChunkRoom)
			if out != nil {
				room = max(limit/8, 2*len(out))
				if len(out) > firstChunkRoom {
					room = limit
				}
			}
			grown := make([]eventstore.Event, len(out), max(min(room, limit), 2*len(out), 1))
			copy(grown, out)
			out = grown
		}
		size += len(e.Data) + len(e.Metadata)
		out = append(out, e)
		if size >= chunkBytes {
			full = true
			return errStopRows
		}
		return nil
	}, query, args...)
	if err != nil {
		return nil, 0, false, err
	}
	return out, size, full, nil
}

// rowScanner scans the events of one chunk with few allocations of its own
// (a page of 1,000 rows was 16 allocations a row, 4 of them here): the ids and
// names are read without a copy, a name equal to the previous row's reuses its
// string, and data and metadata are copied into shared blocks. The events'
// slices stay valid after the rows are closed.
type rowScanner struct {
	id, stream, streamType, typ, data, metadata sql.RawBytes
	lastStreamType, lastType                    string
	block                                       []byte
	// check, if set, is given each event with its checksum (read last);
	// checkRows, if set, the first checkRows alone (a page's: the row read
	// past it only says that more follow), scanned counting the rows.
	check              func(eventstore.Event, sql.NullInt64) error
	checkRows, scanned int
	sum                sql.NullInt64
	// head, if set, is where the log's head, which the query reads after
	// the event's columns (and its checksum), is scanned.
	head *sql.NullInt64
}

// Data and metadata are copied into blocks that double from minBlockBytes
// to maxBlockBytes: a chunk of one event (the live feed's, kept in its
// buffer) pins a small block, a page of thousands few large ones.
const (
	minBlockBytes = 256
	maxBlockBytes = 32 << 10
)

func (sc *rowScanner) scan(rows *sql.Rows) (eventstore.Event, error) {
	var e eventstore.Event
	var err error
	// Each Scan's arguments listed, not a slice built: that took two
	// allocations a row.
	switch {
	case sc.check == nil && sc.head == nil:
		err = rows.Scan(&e.Position, &sc.id, &sc.stream, &e.Version, &sc.streamType, &sc.typ, &sc.data, &sc.metadata, &e.RecordedAt)
	case sc.head == nil:
		err = rows.Scan(&e.Position, &sc.id, &sc.stream, &e.Version, &sc.streamType, &sc.typ, &sc.data, &sc.metadata, &e.RecordedAt, &sc.sum)
	case sc.check == nil:
		err = rows.Scan(&e.Position, &sc.id, &sc.stream, &e.Version, &sc.streamType, &sc.typ, &sc.data, &sc.metadata, &e.RecordedAt, sc.head)
	default:
		err = rows.Scan(&e.Position, &sc.id, &sc.stream, &e.Version, &sc.streamType, &sc.typ, &sc.data, &sc.metadata, &e.RecordedAt, &sc.sum, sc.head)
	}
	if err != nil {
		return eventstore.Event{}, err
	}
	var err1, err2 error
	e.ID, err1 = uuid.FromBytes(sc.id)
	e.StreamID, err2 = uuid.FromBytes(sc.stream)
	if err := errors.Join(err1, err2); err != nil {
		return eventstore.Event{}, fmt.Errorf("scan event ids: %w", err)
	}
	e.StreamType = reuse(&sc.lastStreamType, sc.streamType)
	e.Type = reuse(&sc.lastType, sc.typ)
	e.Data = sc.keep(sc.data)
	e.Metadata = sc.keep(sc.metadata)
	if sc.scanned++; sc.check != nil && (sc.checkRows == 0 || sc.scanned <= sc.checkRows) {
		if err := sc.check(e, sc.sum); err != nil {
			return eventstore.Event{}, err
		}
	}
	return e, nil
}

// reuse returns *last if it equals b, else b as a new string, kept in *last.
func reuse(last *string, b []byte) string {
	if string(b) != *last {
		*last = string(b)
	}
	return *last
}

// keep copies b into the current block, or into a new one if it is full;
// nil (NULL) stays nil.
func (sc *rowScanner) keep(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) > cap(sc.block)-len(sc.block) {
		if len(b) > maxBlockBytes/4 {
			return append(make([]byte, 0, len(b)), b...) // a large one alone
		}
		sc.block = make([]byte, 0, max(min(2*cap(sc.block), maxBlockBytes), minBlockBytes, len(b)))
	}
	start := len(sc.block)
	sc.block = append(sc.block, b...)
	return sc.block[start:len(sc.block):len(sc.block)] // an append to it cannot reach the next
}

// scanEvent scans one row, and gives the event with its checksum (read
// last) to check, if set; a chunk of rows uses rowScanner.
func scanEvent(row interface{ Scan(...any) error }, check func(eventstore.Event, sql.NullInt64) error) (eventstore.Event, error) {
	var e eventstore.Event
	var rawID, rawStream []byte
	var sum sql.NullInt64
	dest := []any{&e.Position, &rawID, &rawStream, &e.Version, &e.StreamType, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt}
	if check != nil {
		dest = append(dest, &sum)
	}
	if err := row.Scan(dest...); err != nil {
		return eventstore.Event{}, err
	}
	var err1, err2 error
	e.ID, err1 = uuid.FromBytes(rawID)
	e.StreamID, err2 = uuid.FromBytes(rawStream)
	if err := errors.Join(err1, err2); err != nil {
		return eventstore.Event{}, fmt.Errorf("scan event ids: %w", err)
	}
	if check != nil {
		if err := check(e, sum); err != nil {
			return eventstore.Event{}, err
		}
	}
	return e, nil
}

// namesOrAny returns a filter of each name, or, for no names, one filter
// that keeps all.
func namesOrAny(names []string) [][]string {
	if len(names) == 0 {
		return [][]string{nil}
	}
	out := make([][]string, len(names))
	for i, n := range names {
		out[i] = []string{n}
	}
	return out
}

// distinct returns names without repeats, in their first order.
func distinct(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

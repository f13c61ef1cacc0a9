package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// appendTx is one group transaction on a connection of the writer's pool.
// It sends its statements in two phases: its reads, then its writes and
// COMMIT; where the dialect batches, each phase is one round trip to the
// database, whatever the number of statements in it.
type appendTx struct {
	conn *sql.Conn
	d    Dialect
	m    *metrics.Metrics
	open bool // BEGIN was sent, and neither COMMIT nor ROLLBACK
	// stall ends a ROLLBACK's wait once the database is stalled (rollback).
	stall *stallWatch
}

// statement is one SQL statement with its arguments.
type statement struct {
	kind  string // for the statements metric
	query string
	args  []any
}

// readPhase is the read phase of a group's transaction: where the dialect
// says so, the session's wait for tables' locks, then BEGIN, the log's write
// lock and head, the calls' streams (locked where the dialect locks rows)
// and the known event ids their clients chose; and, once their results are
// scanned, what they found.
type readPhase struct {
	calls []*call
	stmts []statement
	first int // the index in stmts of the first statement that returns rows (the lock)
	head  int64
	now   time.Time
	found map[uuid.UUID]streamState
	known map[uuid.UUID]knownEvent
}

// newReadPhase is the read phase of calls' transaction, which ends by
// deadline: its lock waits end by then too (Dialect.WaitForLocks).
func newReadPhase(d Dialect, calls []*call, deadline time.Time) *readPhase {
	ids := streamsOf(calls)
	r := &readPhase{calls: calls, found: make(map[uuid.UUID]streamState, len(ids)), known: make(map[uuid.UUID]knownEvent)}
	if d.WaitForLocks != nil {
		r.stmts = append(r.stmts, statement{"wait_for_locks", d.WaitForLocks(time.Until(deadline)), nil})
	}
	r.stmts = append(r.stmts, statement{"begin", d.Begin, nil})
	r.first = len(r.stmts)
	r.stmts = append(r.stmts, []statement{
		{"lock_head", d.LockHead, nil},
		{"read_streams", readStreams(d, len(ids)), idArgs(ids)},
	}...)
	sum := ""
	if d.CheckRead != nil {
		sum = ", checksum" // checked as every read of events is (scanKnown)
	}
	for known := clientIDsOf(calls); len(known) > 0; {
		n := min(len(known), 500)
		r.stmts = append(r.stmts, statement{"known_events", "SELECT event_id, stream_id, stream_type, stream_version, position, " +
			"recorded_at, event_type, data, metadata, batch_size" + sum + " FROM events WHERE event_id IN (" + placeholders(n) + ")", idArgs(known[:n])})
		known = known[n:]
	}
	return r
}

// readStreams reads n streams' versions and rows, where they have events:
// their id, type and created_at (NULL where the stream's row of streams is
// missing: damage, errStreamRowMissing) and their last event's version,
// the stream's. A stream is read from its events, not from its row: a
// stream whose row was lost (a restore from dumps taken apart, a DELETE by
// hand) but whose events are there is not taken for a new one.
//
// Where the dialect locks rows, each stream's last event is found by a
// locking read of its own, which sees the newest committed row whatever
// the server's order of making a commit visible and releasing its locks.
// (A plain read taken after the log's lock was measured to see the commit
// that held it too, on MariaDB 10.11, 0 misses in about 6,000 tries, as
// InnoDB's source says it must; readers without the lock can see commits
// out of order, see visibleUpTo.) Each part reads and locks one event,
// however long the stream. Elsewhere one statement reads them all, each
// stream's last version through the index on (stream_id, stream_version),
// one entry each; a stream without events gives NULL there, and is skipped
// (scanStreams).
func readStreams(d Dialect, n int) string {
	if d.LockStreams == "" {
		return "WITH i(id) AS (VALUES " + tuples("(?)", n, ", ") + ") SELECT i.id, s.stream_type, s.created_at, " +
			"(SELECT e.stream_version FROM events e WHERE e.stream_id = i.id ORDER BY e.stream_version DESC LIMIT 1) " +
			"FROM i LEFT JOIN streams s ON s.stream_id = i.id"
	}
	return tuples("(SELECT e.stream_id, s.stream_type, s.created_at, e.stream_version FROM events e "+
		"LEFT JOIN streams s ON s.stream_id = e.stream_id WHERE e.stream_id = ? ORDER BY e.stream_version DESC LIMIT 1"+d.LockStreams+")", n, " UNION ALL ")
}

// scans returns what scans the result of each statement after BEGIN, in order.
func (r *readPhase) scans(t *appendTx) []func(*sql.Rows) error {
	scans := []func(*sql.Rows) error{
		func(rows *sql.Rows) (err error) { r.head, r.now, err = t.scanHead(rows); return err },
		func(rows *sql.Rows) error { return scanStreams(rows, r.found) },
	}
	for range r.stmts[r.first+2:] {
		scans = append(scans, func(rows *sql.Rows) error { return scanKnown(rows, r.known, t.d.CheckRead) })
	}
	return scans
}

// plan is the plan the scanned reads make.
func (r *readPhase) plan() *plan { return newPlan(r.head, r.now, r.calls, r.found, r.known) }

// begin takes a connection and begins the transaction with the read phase.
// It returns the plan those reads make.
//
// The reads, which wait for the log's lock, and the wait for a connection
// end once every caller has left, as well as at ctx's end: nothing is
// written and no COMMIT is on its way, and a caller's Append, which waits
// for its group's outcome, would hold its handler (through a stop's
// reserve) until the lock came free. The error then wraps errCallerLeft.
// The wait for a connection (one being made to a server that says
// nothing, say) ends too once stall says that the database does not
// answer: nothing was sent, and the error is the stall's refusal.
func begin(ctx context.Context, db *sql.DB, d Dialect, m *metrics.Metrics, stall *stallWatch, calls []*call) (*appendTx, *plan, error) {
	ctx, stop := whileCalled(ctx, calls)
	defer stop()
	if err := ctx.Err(); err != nil {
		// Its time was up before it began: no wait for a connection failed.
		return nil, nil, leftOr(ctx, fmt.Errorf("begin: %w", err))
	}
	cctx, unwatch := stall.until(ctx)
	conn, err := db.Conn(cctx)
	unwatch()
	if serr := context.Cause(cctx); isStall(serr) {
		if conn != nil {
			conn.Close()
		}
		return nil, nil, serr
	}
	if err != nil {
		return nil, nil, leftOr(ctx, fmt.Errorf("%w: %w", errNoConnection, err))
	}
	t := &appendTx{conn: conn, d: d, m: m, stall: stall}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(txTimeout)
	}
	r := newReadPhase(d, calls, deadline)
	t.open = true
	if err := t.query(ctx, r.stmts, r.scans(t)); err != nil {
		t.rollback()
		if context.Cause(ctx) == errCallerLeft {
			return nil, nil, fmt.Errorf("%w: %w", errCallerLeft, err)
		}
		if d.Lost != nil && d.Lost(err) && (d.Unrun == nil || !d.Unrun(err)) && ctx.Err() == nil {
			// Its session was killed or cut while it read (waiting for
			// the log's lock, say): it wrote nothing and sent no COMMIT,
			// and another session may do while the callers wait. (Not a
			// refusal before the statement ran, the account's query limit:
			// another session meets it too.)
			err = fmt.Errorf("%w: %w", errReadsLost, err)
		}
		return nil, nil, err
	}
	return t, r.plan(), nil
}

// whileCalled returns ctx, ended too once every call's caller has left
// (its cause errCallerLeft), and what stops it. A caller whose deadline is
// ctx's, or later, has not left when it passes: ctx ends by that deadline
// itself, and what then failed is said as such (a database that did not
// answer in time), whichever of the two timers fired first.
func whileCalled(ctx context.Context, calls []*call) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	end, bounded := ctx.Deadline()
	var left atomic.Int64
	stops := make([]func() bool, len(calls))
	for i, c := range calls {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if bounded && errors.Is(c.ctx.Err(), context.DeadlineExceeded) {
				if d, ok := c.ctx.Deadline(); ok && !d.Before(end) {
					return
				}
			}
			if left.Add(1) == int64(len(calls)) {
				cancel(errCallerLeft)
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel(nil)
	}
}

// leftOr is err, said to be errCallerLeft's if ctx (of whileCalled) ended
// because every caller left.
func leftOr(ctx context.Context, err error) error {
	if context.Cause(ctx) == errCallerLeft {
		return fmt.Errorf("%w: %w", errCallerLeft, err)
	}
	return err
}

// errWriteLockWait is a group's whose BEGIN, which takes the log's write
// lock (Dialect.BeginLocks), met its deadline, or the end of the database's
// own wait (Retryable: SQLite's busy timeout), while another connection
// held that lock: nothing was written.
var errWriteLockWait = errors.New("waiting for the write lock")

// errNoConnection is a group's that found no connection of the writer's
// pool free (each in use, or none could be made): nothing was sent.
var errNoConnection = errors.New("wait for a connection to the database")

// errReadsLost is a group's whose reads lost their session: nothing was
// written, and run begins it again on another.
var errReadsLost = errors.New("the group's reads lost their session")

// query runs the statements, the first of which return no rows (BEGIN, and
// any before it), and hands each later one's rows to its scan.
func (t *appendTx) query(ctx context.Context, stmts []statement, scans []func(*sql.Rows) error) error {
	first := len(stmts) - len(scans)
	if !t.d.Batch {
		// One at a time: those after a failed one are never sent, nor counted.
		for _, s := range stmts[:first] {
			t.m.Statement(s.kind)
			if _, err := t.conn.ExecContext(ctx, s.query); err != nil {
				if s.kind == "begin" && t.d.BeginLocks && (errors.Is(err, context.DeadlineExceeded) || t.d.Retryable != nil && t.d.Retryable(err)) {
					// Its time ended while it waited for the write lock, or
					// the database's own wait for it did (SQLite's busy
					// timeout): another connection holds it.
					return fmt.Errorf("%s: %w: %w", s.kind, errWriteLockWait, err)
				}
				return fmt.Errorf("%s: %w", s.kind, err)
			}
		}
		for i, s := range stmts[first:] {
			t.m.Statement(s.kind)
			if err := t.scanQuery(ctx, s.kind, s.query, s.args, scans[i]); err != nil {
				return err
			}
		}
		return nil
	}
	t.count(stmts)
	query, args := join(stmts)
	rows, err := t.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", upTo(stmts, first), err)
	}
	defer rows.Close()
	// The driver skips the empty results up to BEGIN's: the first set is the next statement's.
	return scanSets(rows, stmts[first:], scans)
}

// upTo names the statements of a batch up to its first that returns rows
// (stmts[first]), one of which failed: the driver skips the empty results
// of those before it and returns the first error, whichever statement's,
// and the server runs none after it.
func upTo(stmts []statement, first int) string {
	if first == 0 {
		return stmts[0].kind
	}
	names := make([]string, first)
	for i, s := range stmts[:first] {
		names[i] = s.kind
	}
	return strings.Join(names, ", ") + " or " + stmts[first].kind
}

// count records a batch's statements in the statements metric: all of them
// are sent in its round trip, those after one that fails included.
func (t *appendTx) count(stmts []statement) {
	for _, s := range stmts {
		t.m.Statement(s.kind)
	}
}

// scanSets hands the result sets of rows, from the current one on, to the
// scans of stmts, one each.
func scanSets(rows *sql.Rows, stmts []statement, scans []func(*sql.Rows) error) error {
	for i, scan := range scans {
		if i > 0 && !rows.NextResultSet() {
			return fmt.Errorf("%s: %w", stmts[i].kind, orDefault(rows.Err(), errors.New("missing result set")))
		}
		if err := scan(rows); err != nil {
			return fmt.Errorf("%s: %w", stmts[i].kind, err)
		}
	}
	return rows.Err()
}

// scanQuery runs one query and scans its rows.
func (t *appendTx) scanQuery(ctx context.Context, kind, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := t.conn.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	defer rows.Close()
	if err := scan(rows); err != nil {
		return fmt.Errorf("%s: %w", kind, err)
	}
	return nil
}

// orDefault returns err, or def when err is nil.
func orDefault(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// join makes one multi-statement query of stmts.
func join(stmts []statement) (string, []any) {
	var b strings.Builder
	var args []any
	for i, s := range stmts {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(s.query)
		args = append(args, s.args...)
	}
	return b.String(), args
}

// errHeadRowMissing is an append's that finds no row in log_head: a
// restore under way (log_head made again, its row not yet inserted) or a
// change by hand. Nothing is written; no migration makes the row again.
var errHeadRowMissing = fmt.Errorf("%w: the log's head row (log_head, id 1) is missing: the database is being restored, or was changed by hand", eventstore.ErrUnavailable)

// scanHead reads the head's row: the last assigned position and the time to
// stamp events with, read once the lock is held, and never before the
// head's, so that times never decrease along the log.
func (t *appendTx) scanHead(rows *sql.Rows) (int64, time.Time, error) {
	if !rows.Next() {
		return 0, time.Time{}, orDefault(rows.Err(), errHeadRowMissing)
	}
	// The row's values in one struct: Scan's pointers sent each to the
	// heap on its own (four allocations an append).
	var v struct {
		head        int64
		last, dbNow sql.NullTime
		leased      sql.NullBool
	}
	dest := make([]any, 2, 4)
	dest[0], dest[1] = &v.head, &v.last
	if t.d.ClockInSQL {
		dest = append(dest, &v.dbNow)
	}
	if t.d.Leased {
		dest = append(dest, &v.leased)
	}
	if err := rows.Scan(dest...); err != nil {
		return 0, time.Time{}, err
	}
	head, last, dbNow, leased := v.head, v.last, v.dbNow, v.leased
	if t.d.Leased && !leased.Bool {
		return 0, time.Time{}, ErrNotWriter
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if t.d.ClockInSQL {
		now = dbNow.Time.UTC()
	}
	if last.Valid && last.Time.After(now) {
		now = last.Time.UTC()
	}
	for rows.Next() { // one row; drain for the next result set
	}
	return head, now, rows.Err()
}

// scanStreams adds the streams in rows to found: those with events, a
// stream whose row of streams is missing marked so (rowMissing).
func scanStreams(rows *sql.Rows, found map[uuid.UUID]streamState) error {
	// One struct for every row's values, which Scan sets whole each row:
	// four variables a row, each sent to the heap by Scan, cost four
	// allocations a stream.
	var v struct {
		raw     []byte
		typ     sql.NullString
		created sql.NullTime
		version sql.NullInt64
	}
	for rows.Next() {
		if err := rows.Scan(&v.raw, &v.typ, &v.created, &v.version); err != nil {
			return err
		}
		raw, typ, created, version := v.raw, v.typ, v.created, v.version
		if !version.Valid {
			continue // no events: a new stream (a row of streams without events is taken over)
		}
		id, err := uuid.FromBytes(raw)
		if err != nil {
			return fmt.Errorf("stream id: %w", err)
		}
		found[id] = streamState{Type: typ.String, CreatedAt: created.Time, Version: version.Int64, rowMissing: !typ.Valid}
	}
	return rows.Err()
}

// scanKnown adds the stored events in rows to known, with their content:
// only a retry sends stored ids, so this reads data rarely. Where the
// dialect keeps a checksum of each event (check), it is checked here too,
// as every read of events checks it.
func scanKnown(rows *sql.Rows, known map[uuid.UUID]knownEvent, check func(eventstore.Event, sql.NullInt64) error) error {
	for rows.Next() {
		var rawID, rawStream []byte
		var k knownEvent
		var size, sum sql.NullInt64
		dest := []any{&rawID, &rawStream, &k.StreamType, &k.Version, &k.Position, &k.RecordedAt, &k.Type, &k.Data, &k.Metadata, &size}
		if check != nil {
			dest = append(dest, &sum)
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		id, err1 := uuid.FromBytes(rawID)
		sid, err2 := uuid.FromBytes(rawStream)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("event id: %w", err)
		}
		k.StreamID = sid
		if check != nil {
			e := eventstore.Event{ID: id, StreamID: sid, StreamType: k.StreamType, Version: k.Version, Position: k.Position,
				RecordedAt: k.RecordedAt, Type: k.Type, Data: k.Data, Metadata: k.Metadata}
			if err := check(e, sum); err != nil {
				return err
			}
		}
		k.BatchSize = -1
		if size.Valid {
			k.BatchSize = size.Int64
		}
		known[id] = k
	}
	return rows.Err()
}

// idArgs turns ids into query arguments.
func idArgs(ids []uuid.UUID) []any {
	args := make([]any, len(ids))
	for i := range ids {
		args[i] = ids[i][:] // not a copy's: each copy went to the heap
	}
	return args
}

// writeAndCommit sends what the plan laid out, the events, the rows of new
// streams and the new head, then COMMIT; where the dialect batches, all in
// one round trip. If a statement fails, the database runs none after it, and
// the transaction is rolled back; if the connection fails, COMMIT may or may
// not have run, which the error says.
//
// With next (batching dialects only), the same round trip goes on to begin
// next's transaction on this connection with its read phase, behind a marker
// that answers only once COMMIT has: writeAndCommit returns when the marker
// arrives, and the returned begun reads the rest. ctx then stays in use until
// begun is finished or abandoned.
func (t *appendTx) writeAndCommit(ctx context.Context, p *plan, next *readPhase) (*begun, error) {
	var stmts []statement
	if t.d.RefuseLocks != "" {
		// COMMIT goes with the writes, or right after them: none may wait
		// for a lock past the callers' deadline.
		stmts = append(stmts, statement{"refuse_locks", t.d.RefuseLocks, nil})
	}
	stmts = append(stmts, t.writes(p, "")...)
	stmts = append(stmts, setHead(p, ""), statement{"commit", "COMMIT", nil})
	if next != nil && t.d.Batch {
		stmts = append(stmts, statement{"committed", "SELECT 1", nil})
		stmts = append(stmts, next.stmts...)
	} else {
		next = nil
	}
	var err error
	var rows *sql.Rows
	switch {
	case next != nil:
		// The driver skips the empty results of the writes and COMMIT: the
		// query returns at the marker's, once every statement before it ran.
		t.count(stmts)
		query, args := join(stmts)
		rows, err = t.conn.QueryContext(ctx, query, args...)
	case t.d.Batch:
		t.count(stmts)
		query, args := join(stmts)
		_, err = t.conn.ExecContext(ctx, query, args...)
	default:
		for _, s := range stmts {
			t.m.Statement(s.kind) // those after a failed one are never sent
			sctx := ctx
			if s.kind == "commit" && t.d.CommitWithoutDeadline {
				sctx = context.WithoutCancel(ctx)
			}
			if _, err = t.conn.ExecContext(sctx, s.query, s.args...); err != nil {
				if s.kind != "commit" {
					err = fmt.Errorf("%w: %w", errCommitNotSent, err)
				}
				err = fmt.Errorf("%s: %w", s.kind, err)
				break
			}
		}
	}
	if err != nil {
		t.rollback()
		return nil, fmt.Errorf("write events and head, and commit: %w", err)
	}
	if next != nil {
		// Committed; the connection carries on with next's transaction.
		return &begun{t: t, rows: rows, reads: next}, nil
	}
	t.open = false
	return nil, t.conn.Close()
}

// begun is a group's transaction begun in the round trip that committed the
// group before it, on the same connection: the results of its read phase
// wait in rows, behind the marker that said the earlier group committed.
type begun struct {
	t      *appendTx
	rows   *sql.Rows
	reads  *readPhase
	ctx    context.Context    // the round trip's: the earlier group's deadline; set by the writer
	cancel context.CancelFunc // ends ctx; set by the writer
}

// finish reads the read phase's results and returns the transaction and the
// plan they make. If they cannot be read, it rolls the transaction back
// (nothing was written) and returns the error.
//
// The round trip ran under the earlier group's deadline. If that passed
// before the results were all read, the driver may have cut the connection
// even though they arrived (it does so when a query's context ends), and the
// writes would fail on it: that too counts as a failure here, so that the
// group begins afresh with its own deadline.
//
// As begin's, the reads (which may wait for the log's lock) end once every
// one of calls, the group's, has left; the error then wraps errCallerLeft.
func (b *begun) finish(calls []*call) (*appendTx, *plan, error) {
	defer b.cancel()
	called, stop := whileCalled(b.ctx, calls)
	defer stop()
	cut := context.AfterFunc(called, func() {
		if context.Cause(called) == errCallerLeft {
			b.cancel()
		}
	})
	err := b.scan() // the rows are closed: the driver no longer watches ctx
	cut()
	if context.Cause(called) == errCallerLeft {
		b.t.rollback()
		if err == nil {
			return nil, nil, errCallerLeft
		}
		return nil, nil, fmt.Errorf("%w: %w", errCallerLeft, err)
	}
	if err == nil && b.ctx.Err() != nil {
		err = fmt.Errorf("%s: the earlier group's deadline passed: %w", b.reads.stmts[b.reads.first].kind, b.ctx.Err())
	}
	if err != nil {
		b.t.rollback()
		return nil, nil, err
	}
	return b.t, b.reads.plan(), nil
}

func (b *begun) scan() error {
	rows := b.rows
	defer rows.Close()
	for rows.Next() { // the marker's row
	}
	if !rows.NextResultSet() {
		return fmt.Errorf("%s: %w", upTo(b.reads.stmts, b.reads.first), orDefault(rows.Err(), errors.New("missing result set")))
	}
	if err := scanSets(rows, b.reads.stmts[b.reads.first:], b.reads.scans(b.t)); err != nil {
		return err
	}
	return rows.Close()
}

// abandon rolls the transaction back unread; b may be nil.
func (b *begun) abandon() {
	if b == nil {
		return
	}
	defer b.cancel()
	b.rows.Close()
	b.t.rollback()
}

// writes are the statements that write what the plan laid out: the events
// and the rows of the streams it creates; the head (setHead) and COMMIT go
// after them. With now set, the events and new streams are stamped with
// that SQL expression (the dialect's NowVar) rather than the plan's time.
func (t *appendTx) writes(p *plan, now string) []statement {
	var stmts []statement
	for rows := p.rows; len(rows) > 0; {
		n := t.insertSize(rows)
		stmts = append(stmts, insertEvents(rows[:n], now, t.d.Sum))
		rows = rows[n:]
	}
	if created := p.created(); len(created) > 0 {
		stmts = append(stmts, t.createStreams(created, now))
	}
	return stmts
}

// setHead moves the head to the plan's, and leaves a new commit id with it
// (p.commit); with now set, recorded_at is that SQL expression.
func setHead(p *plan, now string) statement {
	p.commit = uuid.New()
	if now != "" {
		return statement{"set_head", "UPDATE log_head SET position = ?, commit_id = ?, recorded_at = " + now + " WHERE id = 1", []any{p.head, p.commit[:]}}
	}
	return statement{"set_head", "UPDATE log_head SET position = ?, commit_id = ?, recorded_at = ? WHERE id = 1", []any{p.head, p.commit[:], p.now}}
}

// insertSize is how many of rows one INSERT takes: at most the dialect's
// rows, and no more once its bytes are reached.
func (t *appendTx) insertSize(rows []row) int {
	n, size := 0, 0
	for n < len(rows) && n < t.d.MaxInsertRows && (n == 0 || size < t.d.MaxInsertBytes) {
		size += len(rows[n].Event.Data) + len(rows[n].Event.Metadata)
		n++
	}
	return n
}

// insertEvents is one multi-row INSERT of rows; with now set, recorded_at
// is that SQL expression. With sum set (the dialect's Sum), each row's
// checksum is written too, computed here in Go (the row's position is known
// only under the log's lock): no statement more, no SQL function.
func insertEvents(rows []row, now string, sum func(eventstore.Event) int64) statement {
	args := make([]any, 0, len(rows)*11)
	// Each row by its index, not copied (a copy, whose ids are sliced,
	// went to the heap whole: one allocation a row); and the values a row
	// shares with the row before (a batch's stream, its types, a group's
	// time) boxed once, not once a row.
	var streamID, streamType, typ, at any
	for i := range rows {
		r := &rows[i]
		prev := r
		if i > 0 {
			prev = &rows[i-1]
		}
		if i == 0 || r.StreamID != prev.StreamID {
			streamID = r.StreamID[:]
		}
		if i == 0 || r.StreamType != prev.StreamType {
			streamType = r.StreamType
		}
		if i == 0 || r.Event.Type != prev.Event.Type {
			typ = r.Event.Type
		}
		args = append(args, r.Position, r.Event.ID[:], streamID, r.Version, streamType, typ,
			r.Event.Data, nullable(r.Event.Metadata))
		if now == "" {
			if i == 0 || r.RecordedAt != prev.RecordedAt {
				at = r.RecordedAt
			}
			args = append(args, at)
		}
		args = append(args, r.BatchSize)
		if sum != nil {
			args = append(args, sum(eventstore.Event{Position: r.Position, ID: r.Event.ID, StreamID: r.StreamID, StreamType: r.StreamType,
				Version: r.Version, Type: r.Event.Type, Data: r.Event.Data, Metadata: r.Event.Metadata}))
		}
	}
	cols, tuple := "", "(?, ?, ?, ?, ?, ?, ?, ?, "+orPlaceholder(now)+", ?)"
	if sum != nil {
		cols, tuple = ", checksum", tuple[:len(tuple)-1]+", ?)"
	}
	return statement{"insert_events", "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, " +
		"data, metadata, recorded_at, batch_size" + cols + ") VALUES " + tuples(tuple, len(rows), ", "), args}
}

// orPlaceholder is now, or "?" if it is empty.
func orPlaceholder(now string) string {
	if now == "" {
		return "?"
	}
	return now
}

// nullable stores absent metadata as NULL rather than an empty BLOB.
func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// createStreams writes the rows of the streams a group creates; with now
// set, their created_at is that SQL expression. (A stream's version and
// updated_at are its last event's: an append to a stream that exists writes
// no row of streams.)
func (t *appendTx) createStreams(streams []newStream, now string) statement {
	args := make([]any, 0, 3*len(streams))
	for i := range streams {
		st := &streams[i] // not copied: a copy, its id sliced, went to the heap
		args = append(args, st.ID[:], st.Type)
		if now == "" {
			args = append(args, st.CreatedAt)
		}
	}
	return statement{"create_streams", "INSERT INTO streams (stream_id, stream_type, created_at) VALUES " +
		tuples("(?, ?, "+orPlaceholder(now)+")", len(streams), ", ") + t.d.UpsertStreams, args}
}

// tuples is rows copies of tuple, separated by sep.
func tuples(tuple string, rows int, sep string) string {
	return tuple + strings.Repeat(sep+tuple, rows-1)
}

// rollback ends the transaction, if it is open, and gives the connection
// back; a connection that cannot roll back is closed instead, which rolls
// back on the server. The ROLLBACK's wait (5 s) ends too once the database
// is stalled (at once if it is now): it waited its whole 5 s for a
// database that answered nothing, holding up its group's answer. Closing
// the session loses nothing: its close reaches the server by the path
// the ROLLBACK would have taken.
func (t *appendTx) rollback() {
	if !t.open {
		t.conn.Close()
		return
	}
	t.open = false
	t.m.Statement("rollback")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctx, unwatch := t.stall.until(ctx)
	defer unwatch()
	if _, err := t.conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.discard()
		return
	}
	t.conn.Close()
}

// discard closes the connection rather than give it back to the pool: its
// state is unknown.
func (t *appendTx) discard() {
	t.conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // ErrBadConn is the point
	t.conn.Close()
}

package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

const (
	// maxGroupEvents bounds how many events one group transaction gathers.
	maxGroupEvents = 5000
	// An INSERT holds at most this many rows or roughly this many bytes of
	// event payload, well inside max_allowed_packet (16 MiB on MariaDB).
	maxInsertRows  = 500
	maxInsertBytes = 1 << 20
	// txTimeout bounds one group transaction, lock waits included.
	txTimeout = 30 * time.Second
	// maxTxAttempts is how often a transaction that hit a deadlock or a lock
	// wait timeout is tried in all.
	maxTxAttempts = 3
)

var errClosed = fmt.Errorf("%w: the store is shutting down", eventstore.ErrUnavailable)

// appendCall is one Append waiting for the writer.
type appendCall struct {
	ctx       context.Context
	req       eventstore.AppendRequest
	clientIDs []uuid.UUID // ids the client chose; only these can repeat
	res       eventstore.AppendResult
	err       error
	done      chan struct{}
}

// Append implements eventstore.Store. The request joins the next group
// transaction; Append returns once that transaction has committed or failed.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := req.Validate(); err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, err)
	}
	call := &appendCall{ctx: ctx, req: req, done: make(chan struct{})}
	call.req.Events = make([]eventstore.NewEvent, len(req.Events))
	for i, e := range req.Events {
		if e.ID == uuid.Nil {
			id, err := uuid.NewV7()
			if err != nil {
				return eventstore.AppendResult{}, fmt.Errorf("append to %s: make event id: %w", req.StreamID, err)
			}
			e.ID = id
		} else {
			call.clientIDs = append(call.clientIDs, e.ID)
		}
		call.req.Events[i] = e
	}
	select {
	case s.appends <- call:
	case <-ctx.Done():
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, ctx.Err())
	case <-s.stop:
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, errClosed)
	}
	// Once handed over, the append may commit: wait for the outcome even if
	// the caller gives up, so that what is reported is what happened.
	<-call.done
	if call.err != nil {
		return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, call.err)
	}
	return call.res, nil
}

// writeLoop is the store's only writer. While one group commits, the next
// requests queue up; they are then taken together into the next transaction.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	for {
		var first *appendCall
		select {
		case first = <-s.appends:
		case <-s.stop:
			return
		}
		group := []*appendCall{first}
		n := len(first.req.Events)
	gather:
		for n < maxGroupEvents {
			select {
			case c := <-s.appends:
				group = append(group, c)
				n += len(c.req.Events)
			default:
				break gather
			}
		}
		s.commitGroup(group)
	}
}

// commitGroup writes a group and reports each call's outcome.
func (s *Store) commitGroup(group []*appendCall) {
	live := make([]*appendCall, 0, len(group))
	for _, c := range group {
		// A caller that left before its turn gets nothing written.
		if err := c.ctx.Err(); err != nil {
			c.err = err
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	err := s.runWithRetry(live)
	if err != nil && len(live) > 1 && !errors.Is(err, eventstore.ErrUnavailable) {
		// Something in one request broke the shared transaction. Run each
		// request alone so that only the one at fault fails.
		s.log.Warn("group append failed; retrying its requests one at a time", "requests", len(live), "error", err)
		for _, c := range live {
			if err := s.runWithRetry([]*appendCall{c}); err != nil {
				c.err = err
			}
		}
	} else if err != nil {
		for _, c := range live {
			c.err = err
		}
	}
	for _, c := range live {
		close(c.done)
	}
}

// runWithRetry runs a group transaction, again after a deadlock or lock wait
// timeout, and stores each call's outcome once it has committed.
func (s *Store) runWithRetry(calls []*appendCall) error {
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		var out []outcome
		out, err = s.runGroup(calls)
		if err == nil {
			for i, c := range calls {
				c.res, c.err = out[i].res, out[i].err
			}
			return nil
		}
		if !isMySQLError(err, errDeadlock, errLockWaitTimeout) {
			break
		}
	}
	if len(calls) == 1 && isMySQLError(err, errDupKey) {
		// The unique (stream_id, stream_version) key is the last line of
		// defence: someone wrote the stream without the log_head lock.
		return s.conflict(calls[0].req, err)
	}
	return translate(err)
}

// conflict turns a duplicate-key error into the wrong-expected-version error
// it stands for, with the stream's version as it is now.
func (s *Store) conflict(req eventstore.AppendRequest, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var current int64
	err := s.wdb.QueryRowContext(ctx, "SELECT version FROM streams WHERE stream_id = ?", req.StreamID[:]).Scan(&current)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return translate(errors.Join(cause, err))
	}
	return &eventstore.WrongExpectedVersionError{StreamID: req.StreamID, Expected: req.Expected, Current: current}
}

type outcome struct {
	res eventstore.AppendResult
	err error
}

// streamState is a stream as the group transaction sees it, updated in memory
// as the group's requests are applied in order.
type streamState struct {
	typ       string
	version   int64
	createdAt time.Time
	touched   bool
}

// knownEvent is an event id already in the log, or written earlier in the group.
type knownEvent struct {
	streamID   uuid.UUID
	version    int64
	position   int64
	recordedAt time.Time
}

// runGroup runs one group transaction. Requests that fail a check (expected
// version, duplicate id, stream type) get their error in the outcome and write
// nothing; the others are written together. The returned error is about the
// transaction itself, and then nothing was written.
func (s *Store) runGroup(calls []*appendCall) ([]outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), txTimeout)
	defer cancel()
	// READ COMMITTED: under REPEATABLE READ, SELECT … FOR UPDATE followed by
	// INSERT takes gap locks and livelocks under concurrent writers.
	tx, err := s.wdb.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	// The log_head lock is held until COMMIT: it orders commits, and so
	// positions, across every writer on the database. The database's clock
	// stamps the events, one clock for all processes.
	var head int64
	var now time.Time
	err = tx.QueryRowContext(ctx, "SELECT position, UTC_TIMESTAMP(6) FROM log_head WHERE id = 1 FOR UPDATE").Scan(&head, &now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("lock log head: the log_head row is missing; run `api migrate`")
	}
	if err != nil {
		return nil, fmt.Errorf("lock log head: %w", err)
	}
	streams, err := loadStreams(ctx, tx, calls)
	if err != nil {
		return nil, err
	}
	known, err := loadKnownEvents(ctx, tx, calls)
	if err != nil {
		return nil, err
	}

	out := make([]outcome, len(calls))
	var rows []eventRow
	first := head
	for i, c := range calls {
		out[i] = apply(c, streams, known, &head, now, &rows)
	}
	if head == first {
		return out, nil // every request was refused: nothing to commit
	}
	if err := insertEvents(ctx, tx, rows); err != nil {
		return nil, err
	}
	if err := upsertStreams(ctx, tx, streams, now); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE log_head SET position = ? WHERE id = 1", head); err != nil {
		return nil, fmt.Errorf("advance log head: %w", err)
	}
	if s.beforeCommit != nil {
		s.beforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}

// apply checks one request against the group's view of the database and, if
// it passes, plans its rows.
func apply(c *appendCall, streams map[uuid.UUID]*streamState, known map[uuid.UUID]knownEvent, head *int64, now time.Time, rows *[]eventRow) outcome {
	req := c.req
	st := streams[req.StreamID]

	// Idempotency comes first: a retry must succeed although the stream has
	// moved past the version the original request expected.
	if res, retry, err := checkRetry(c, st, known); err != nil || retry {
		return outcome{res: res, err: err}
	}
	if !req.Expected.Allows(st.version) {
		return outcome{err: &eventstore.WrongExpectedVersionError{StreamID: req.StreamID, Expected: req.Expected, Current: st.version}}
	}
	switch {
	case st.version == 0 && req.StreamType == "":
		return outcome{err: eventstore.ErrStreamTypeRequired}
	case st.version == 0:
		st.typ = req.StreamType
		st.createdAt = now
	case req.StreamType != "" && req.StreamType != st.typ:
		return outcome{err: &eventstore.StreamTypeMismatchError{StreamID: req.StreamID, Stored: st.typ, Given: req.StreamType}}
	}

	res := eventstore.AppendResult{StreamID: req.StreamID, StreamType: st.typ, Events: make([]eventstore.RecordedEvent, len(req.Events))}
	for i, e := range req.Events {
		*head++
		st.version++
		*rows = append(*rows, eventRow{position: *head, streamType: st.typ, version: st.version, streamID: req.StreamID, event: e, recordedAt: now})
		known[e.ID] = knownEvent{streamID: req.StreamID, version: st.version, position: *head, recordedAt: now}
		res.Events[i] = eventstore.RecordedEvent{ID: e.ID, Version: st.version, Position: *head, RecordedAt: now}
	}
	st.touched = true
	res.Version = st.version
	return outcome{res: res}
}

// checkRetry decides whether a request repeats a batch already stored: every
// event id in this stream, in this order, at consecutive versions. An id that
// is known but does not fit that picture is a duplicate.
func checkRetry(c *appendCall, st *streamState, known map[uuid.UUID]knownEvent) (eventstore.AppendResult, bool, error) {
	var firstKnown uuid.UUID
	for _, id := range c.clientIDs {
		if _, ok := known[id]; ok {
			firstKnown = id
			break
		}
	}
	if firstKnown == uuid.Nil {
		return eventstore.AppendResult{}, false, nil
	}
	req := c.req
	res := eventstore.AppendResult{StreamID: req.StreamID, StreamType: st.typ, Duplicate: true}
	for i, e := range req.Events {
		k, ok := known[e.ID]
		if !ok || k.streamID != req.StreamID || (i > 0 && k.version != res.Events[i-1].Version+1) {
			return eventstore.AppendResult{}, false, &eventstore.DuplicateEventError{EventID: firstKnown}
		}
		res.Events = append(res.Events, eventstore.RecordedEvent{ID: e.ID, Version: k.version, Position: k.position, RecordedAt: k.recordedAt})
	}
	res.Version = res.Events[len(res.Events)-1].Version
	return res, true, nil
}

// loadStreams reads and locks the group's streams. Streams that do not exist
// yet are returned at version 0.
func loadStreams(ctx context.Context, tx *sql.Tx, calls []*appendCall) (map[uuid.UUID]*streamState, error) {
	streams := make(map[uuid.UUID]*streamState, len(calls))
	args := make([]any, 0, len(calls))
	for _, c := range calls {
		if _, ok := streams[c.req.StreamID]; !ok {
			streams[c.req.StreamID] = &streamState{}
			args = append(args, c.req.StreamID[:])
		}
	}
	rows, err := tx.QueryContext(ctx,
		"SELECT stream_id, stream_type, version, created_at FROM streams WHERE stream_id IN ("+placeholders(len(args))+") FOR UPDATE", args...)
	if err != nil {
		return nil, fmt.Errorf("lock streams: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		var st streamState
		if err := rows.Scan(&raw, &st.typ, &st.version, &st.createdAt); err != nil {
			return nil, fmt.Errorf("scan stream: %w", err)
		}
		id, err := uuid.FromBytes(raw)
		if err != nil {
			return nil, fmt.Errorf("scan stream id: %w", err)
		}
		*streams[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock streams: %w", err)
	}
	return streams, nil
}

// loadKnownEvents looks up the client-chosen event ids of the group.
func loadKnownEvents(ctx context.Context, tx *sql.Tx, calls []*appendCall) (map[uuid.UUID]knownEvent, error) {
	known := make(map[uuid.UUID]knownEvent)
	var ids []any
	for _, c := range calls {
		for _, id := range c.clientIDs {
			ids = append(ids, id[:])
		}
	}
	const chunk = 1000
	for len(ids) > 0 {
		n := min(len(ids), chunk)
		if err := loadKnownChunk(ctx, tx, ids[:n], known); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return known, nil
}

func loadKnownChunk(ctx context.Context, tx *sql.Tx, ids []any, known map[uuid.UUID]knownEvent) error {
	rows, err := tx.QueryContext(ctx,
		"SELECT event_id, stream_id, stream_version, position, recorded_at FROM events WHERE event_id IN ("+placeholders(len(ids))+")", ids...)
	if err != nil {
		return fmt.Errorf("look up event ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rawID, rawStream []byte
		var k knownEvent
		if err := rows.Scan(&rawID, &rawStream, &k.version, &k.position, &k.recordedAt); err != nil {
			return fmt.Errorf("scan event id: %w", err)
		}
		id, err1 := uuid.FromBytes(rawID)
		sid, err2 := uuid.FromBytes(rawStream)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("scan event id: %w", err)
		}
		k.streamID = sid
		known[id] = k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up event ids: %w", err)
	}
	return nil
}

// eventRow is one planned row of the events table.
type eventRow struct {
	position   int64
	streamID   uuid.UUID
	streamType string
	version    int64
	event      eventstore.NewEvent
	recordedAt time.Time
}

const insertEventsSQL = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at) VALUES "

// insertEvents writes rows in multi-row INSERTs of bounded size.
func insertEvents(ctx context.Context, tx *sql.Tx, rows []eventRow) error {
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows) && n < maxInsertRows && (n == 0 || size < maxInsertBytes) {
			size += len(rows[n].event.Data) + len(rows[n].event.Metadata)
			n++
		}
		args := make([]any, 0, n*9)
		for _, r := range rows[:n] {
			args = append(args, r.position, r.event.ID[:], r.streamID[:], r.version, r.streamType, r.event.Type, r.event.Data, r.event.Metadata, r.recordedAt)
		}
		q := insertEventsSQL + "(" + placeholders(9) + ")" + strings.Repeat(", ("+placeholders(9)+")", n-1)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// upsertStreams writes the new version of every stream the group appended to.
func upsertStreams(ctx context.Context, tx *sql.Tx, streams map[uuid.UUID]*streamState, now time.Time) error {
	var args []any
	n := 0
	for id, st := range streams {
		if !st.touched {
			continue
		}
		args = append(args, id[:], st.typ, st.version, st.createdAt, now)
		n++
	}
	q := "INSERT INTO streams (stream_id, stream_type, version, created_at, updated_at) VALUES (" + placeholders(5) + ")" +
		strings.Repeat(", ("+placeholders(5)+")", n-1) +
		" ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at = VALUES(updated_at)"
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("update streams: %w", err)
	}
	return nil
}

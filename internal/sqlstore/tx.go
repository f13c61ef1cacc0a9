package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// appendTx is one group transaction: the statements an append sends, in the
// order the writer sends them.
type appendTx struct {
	tx *sql.Tx
	d  Dialect
	m  *metrics.Metrics
}

// lockHead takes the log's write lock and returns the last assigned position
// and the time to stamp events with: read once the lock is held, and never
// before the head's, so that times never decrease along the log.
func (t appendTx) lockHead(ctx context.Context) (int64, time.Time, error) {
	var head int64
	var last, dbNow sql.NullTime
	dest := []any{&head, &last}
	if t.d.ClockInSQL {
		dest = append(dest, &dbNow)
	}
	t.m.Statement("lock_head")
	err := t.tx.QueryRowContext(ctx, t.d.LockHead).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, errors.New("lock log head: the log_head row is missing; run `api migrate`")
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("lock log head: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if t.d.ClockInSQL {
		now = dbNow.Time.UTC()
	}
	if last.Valid && last.Time.After(now) {
		now = last.Time.UTC()
	}
	return head, now, nil
}

// loadPlan reads what the calls' plan needs: their streams (locked where the
// dialect locks rows) and the event ids their clients chose that are known.
func (t appendTx) loadPlan(ctx context.Context, head int64, now time.Time, calls []*call) (*plan, error) {
	found, err := t.streams(ctx, streamsOf(calls))
	if err != nil {
		return nil, err
	}
	known := make(map[uuid.UUID]knownEvent)
	for ids := clientIDsOf(calls); len(ids) > 0; {
		n := min(len(ids), 500)
		if err := t.knownEvents(ctx, ids[:n], known); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return newPlan(head, now, calls, found, known), nil
}

// idArgs turns ids into query arguments.
func idArgs(ids []uuid.UUID) []any {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id[:]
	}
	return args
}

// streams reads the given streams; missing ones are left out.
func (t appendTx) streams(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]streamState, error) {
	t.m.Statement("read_streams")
	rows, err := t.tx.QueryContext(ctx,
		"SELECT stream_id, stream_type, version, created_at FROM streams WHERE stream_id IN ("+placeholders(len(ids))+")"+t.d.LockStreams,
		idArgs(ids)...)
	if err != nil {
		return nil, fmt.Errorf("read streams: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]streamState, len(ids))
	for rows.Next() {
		var raw []byte
		var st streamState
		if err := rows.Scan(&raw, &st.Type, &st.Version, &st.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan stream: %w", err)
		}
		id, err := uuid.FromBytes(raw)
		if err != nil {
			return nil, fmt.Errorf("scan stream id: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read streams: %w", err)
	}
	return out, nil
}

// knownEvents adds to known the given event ids already in the log, with
// their content: only a retry sends stored ids, so this reads data rarely.
func (t appendTx) knownEvents(ctx context.Context, ids []uuid.UUID, known map[uuid.UUID]knownEvent) error {
	t.m.Statement("known_events")
	rows, err := t.tx.QueryContext(ctx,
		"SELECT event_id, stream_id, stream_type, stream_version, position, recorded_at, event_type, data, metadata, batch_size "+
			"FROM events WHERE event_id IN ("+placeholders(len(ids))+")", idArgs(ids)...)
	if err != nil {
		return fmt.Errorf("look up event ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rawID, rawStream []byte
		var k knownEvent
		var size sql.NullInt64
		if err := rows.Scan(&rawID, &rawStream, &k.StreamType, &k.Version, &k.Position, &k.RecordedAt, &k.Type, &k.Data, &k.Metadata, &size); err != nil {
			return fmt.Errorf("scan event id: %w", err)
		}
		id, err1 := uuid.FromBytes(rawID)
		sid, err2 := uuid.FromBytes(rawStream)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("scan event id: %w", err)
		}
		k.StreamID = sid
		k.BatchSize = -1
		if size.Valid {
			k.BatchSize = size.Int64
		}
		known[id] = k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up event ids: %w", err)
	}
	return nil
}

// write sends what the plan laid out: the events, the streams' new state and
// the new head.
func (t appendTx) write(ctx context.Context, p *plan) error {
	if err := t.insertEvents(ctx, p.rows); err != nil {
		return err
	}
	if err := t.saveStreams(ctx, p.saved()); err != nil {
		return err
	}
	t.m.Statement("set_head")
	if _, err := t.tx.ExecContext(ctx, "UPDATE log_head SET position = ?, recorded_at = ? WHERE id = 1", p.head, p.now); err != nil {
		return fmt.Errorf("advance log head: %w", err)
	}
	return nil
}

const insertEvents = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) VALUES "

// insertEvents writes rows in multi-row INSERTs of the dialect's size.
func (t appendTx) insertEvents(ctx context.Context, rows []row) error {
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows) && n < t.d.MaxInsertRows && (n == 0 || size < t.d.MaxInsertBytes) {
			size += len(rows[n].Event.Data) + len(rows[n].Event.Metadata)
			n++
		}
		args := make([]any, 0, n*10)
		for _, r := range rows[:n] {
			args = append(args, r.Position, r.Event.ID[:], r.StreamID[:], r.Version, r.StreamType, r.Event.Type,
				r.Event.Data, nullable(r.Event.Metadata), r.RecordedAt, r.BatchSize)
		}
		t.m.Statement("insert_events")
		if _, err := t.tx.ExecContext(ctx, insertEvents+valuesList(10, n), args...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// nullable stores absent metadata as NULL rather than an empty BLOB.
func nullable(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// saveStreams writes the new version of every stream the group appended to.
func (t appendTx) saveStreams(ctx context.Context, streams []savedStream) error {
	args := make([]any, 0, 5*len(streams))
	for _, st := range streams {
		args = append(args, st.ID[:], st.Type, st.Version, st.CreatedAt, st.UpdatedAt)
	}
	q := "INSERT INTO streams (stream_id, stream_type, version, created_at, updated_at) VALUES " + valuesList(5, len(streams)) + t.d.UpsertStreams
	t.m.Statement("save_streams")
	if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("update streams: %w", err)
	}
	return nil
}

// valuesList is "(?, …), (?, …)": rows tuples of columns placeholders.
func valuesList(columns, rows int) string {
	tuple := "(" + placeholders(columns) + ")"
	return tuple + strings.Repeat(", "+tuple, rows-1)
}

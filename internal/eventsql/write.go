package eventsql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/groupcommit"
)

// Querier runs queries; a *sql.Tx is one.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Streams reads the given streams for an append transaction; missing ones
// are left out. lock is appended to the query: "FOR UPDATE" where the dialect
// locks rows that way, "" where the transaction already holds the write lock.
func Streams(ctx context.Context, q Querier, ids []uuid.UUID, lock string) (map[uuid.UUID]groupcommit.StreamState, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id[:]
	}
	rows, err := q.QueryContext(ctx,
		"SELECT stream_id, stream_type, version, created_at FROM streams WHERE stream_id IN ("+Placeholders(len(args))+") "+lock, args...)
	if err != nil {
		return nil, fmt.Errorf("read streams: %w", err)
	}
	defer rows.Close()
	out := make(map[uuid.UUID]groupcommit.StreamState, len(ids))
	for rows.Next() {
		var raw []byte
		var st groupcommit.StreamState
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

// KnownEvents looks up event ids already in the log, 500 to a query, with
// their content: only a retry sends stored ids, so this reads data rarely.
func KnownEvents(ctx context.Context, q Querier, ids []uuid.UUID) (map[uuid.UUID]groupcommit.KnownEvent, error) {
	known := make(map[uuid.UUID]groupcommit.KnownEvent)
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := knownChunk(ctx, q, ids[:n], known); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return known, nil
}

func knownChunk(ctx context.Context, q Querier, ids []uuid.UUID, known map[uuid.UUID]groupcommit.KnownEvent) error {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id[:]
	}
	rows, err := q.QueryContext(ctx,
		"SELECT event_id, stream_id, stream_type, stream_version, position, recorded_at, event_type, data, metadata, batch_size FROM events WHERE event_id IN ("+Placeholders(len(args))+")", args...)
	if err != nil {
		return fmt.Errorf("look up event ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rawID, rawStream []byte
		var k groupcommit.KnownEvent
		var size sql.NullInt64
		if err := rows.Scan(&rawID, &rawStream, &k.StreamType, &k.Version, &k.Position, &k.RecordedAt, &k.Type, &k.Data, &k.Metadata, &size); err != nil {
			return fmt.Errorf("scan event id: %w", err)
		}
		k.BatchSize = -1
		if size.Valid {
			k.BatchSize = size.Int64
		}
		id, err1 := uuid.FromBytes(rawID)
		sid, err2 := uuid.FromBytes(rawStream)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("scan event id: %w", err)
		}
		k.StreamID = sid
		known[id] = k
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look up event ids: %w", err)
	}
	return nil
}

package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventsql"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/groupcommit"
)

// An INSERT holds at most this many rows or roughly this many bytes of event
// payload, well inside max_allowed_packet (16 MiB on MariaDB).
const (
	maxInsertRows  = 500
	maxInsertBytes = 1 << 20
)

// Append implements eventstore.Store through the store's group-commit writer.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	return s.writer.Append(ctx, req)
}

// writeBackend is the MySQL side of the group-commit writer.
type writeBackend struct {
	db    *sql.DB
	store *Store
}

// WriteTx runs fn under READ COMMITTED: under REPEATABLE READ, SELECT … FOR
// UPDATE followed by INSERT takes gap locks and livelocks under concurrent
// writers. The log_head lock that fn takes first is held until COMMIT.
func (b writeBackend) WriteTx(ctx context.Context, fn func(groupcommit.Tx) error, beforeCommit func()) error {
	tx, err := b.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(mysqlTx{tx}); err != nil {
		return err
	}
	if beforeCommit != nil {
		beforeCommit()
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (writeBackend) Retryable(err error) bool {
	return isMySQLError(err, errDeadlock, errLockWaitTimeout)
}

func (writeBackend) Conflict(err error) bool { return isMySQLError(err, errDupKey) }

func (writeBackend) Translate(err error) error { return translate(err) }

func (b writeBackend) WaitDurable(ctx context.Context, position int64) error {
	return b.store.waitDurable(ctx, position)
}

// mysqlTx is one group transaction.
type mysqlTx struct{ tx *sql.Tx }

// Head locks the log_head row, which orders commits, and so positions,
// across every writer on the database. The database's clock stamps the
// events: one clock for all processes. It is read with SYSDATE, which,
// unlike UTC_TIMESTAMP, is evaluated when the row is read, after the lock
// wait, in the session's time zone (UTC, set at connect); and the time is
// never before the head's, should the server's clock step back.
func (t mysqlTx) Head(ctx context.Context) (int64, time.Time, error) {
	var head int64
	var now time.Time
	var last sql.NullTime
	err := t.tx.QueryRowContext(ctx, "SELECT position, recorded_at, SYSDATE(6) FROM log_head WHERE id = 1 FOR UPDATE").Scan(&head, &last, &now)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, errors.New("lock log head: the log_head row is missing; run `api migrate`")
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("lock log head: %w", err)
	}
	if last.Valid && last.Time.After(now) {
		now = last.Time
	}
	return head, now, nil
}

// Streams reads the group's streams and locks their rows.
func (t mysqlTx) Streams(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]groupcommit.StreamState, error) {
	return eventsql.Streams(ctx, t.tx, ids, "FOR UPDATE")
}

// KnownEvents looks up the event ids the group's clients chose.
func (t mysqlTx) KnownEvents(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]groupcommit.KnownEvent, error) {
	return eventsql.KnownEvents(ctx, t.tx, ids)
}

const insertEventsSQL = "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) VALUES "

// Insert writes rows in multi-row INSERTs of bounded size.
func (t mysqlTx) Insert(ctx context.Context, rows []groupcommit.Row) error {
	for len(rows) > 0 {
		n, size := 0, 0
		for n < len(rows) && n < maxInsertRows && (n == 0 || size < maxInsertBytes) {
			size += len(rows[n].Event.Data) + len(rows[n].Event.Metadata)
			n++
		}
		args := make([]any, 0, n*10)
		for _, r := range rows[:n] {
			args = append(args, r.Position, r.Event.ID[:], r.StreamID[:], r.Version, r.StreamType, r.Event.Type, r.Event.Data, r.Event.Metadata, r.RecordedAt, r.BatchSize)
		}
		q := insertEventsSQL + "(" + eventsql.Placeholders(10) + ")" + strings.Repeat(", ("+eventsql.Placeholders(10)+")", n-1)
		if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert events: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// SaveStreams writes the new version of every stream the group appended to.
func (t mysqlTx) SaveStreams(ctx context.Context, streams []groupcommit.SavedStream) error {
	args := make([]any, 0, 5*len(streams))
	for _, st := range streams {
		args = append(args, st.ID[:], st.Type, st.Version, st.CreatedAt, st.UpdatedAt)
	}
	q := "INSERT INTO streams (stream_id, stream_type, version, created_at, updated_at) VALUES (" + eventsql.Placeholders(5) + ")" +
		strings.Repeat(", ("+eventsql.Placeholders(5)+")", len(streams)-1) +
		" ON DUPLICATE KEY UPDATE version = VALUES(version), updated_at = VALUES(updated_at)"
	if _, err := t.tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("update streams: %w", err)
	}
	return nil
}

func (t mysqlTx) SetHead(ctx context.Context, position int64, recordedAt time.Time) error {
	if _, err := t.tx.ExecContext(ctx, "UPDATE log_head SET position = ?, recorded_at = ? WHERE id = 1", position, recordedAt); err != nil {
		return fmt.Errorf("advance log head: %w", err)
	}
	return nil
}

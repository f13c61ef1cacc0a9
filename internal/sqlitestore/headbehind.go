package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// errHeadRowMissing is headBehind's error where log_head has no row: the
// words of an append that finds it missing (sqlstore), and the mend.
var errHeadRowMissing = fmt.Errorf("%w: the log's head row (log_head, id 1) is missing: the database file was changed by hand, "+
	"or is being restored; put the row back with sqlite3 %s %q, or restore the whole file from one backup", eventstore.ErrUnavailable, FileName, mendHeadRow)

// mendHeadRow makes the log's head row again, at the last event.
const mendHeadRow = "INSERT INTO log_head (id, position, recorded_at) SELECT 1, COALESCE(MAX(position), 0), MAX(recorded_at) FROM events"

// Append implements eventstore.Store (sqlstore's Append). An append that
// failed on a position or stream version taken, still on the writer's
// fresh read, has the store look whether the log's head is behind its
// events (headBehind): then it is refused as that damage, a 503 naming the
// repair, not a bare error (a 500) blaming a writer without the log lock.
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	res, err := s.Store.Append(ctx, req)
	if err != nil && dialect.Conflict(err) && !errors.Is(err, eventstore.ErrUnavailable) {
		// Within the caller's time: a local read of one row and one index's
		// end; where it fails, the append's own error is the answer.
		if derr := s.headBehind(ctx); errors.Is(derr, eventstore.ErrDamaged) {
			return res, fmt.Errorf("append to %s: %w", req.StreamID, derr)
		}
	}
	return res, err
}

// headBehind returns an error wrapping eventstore.ErrDamaged and
// ErrHeadBehind (and ErrUnavailable) if the log's head is behind the last
// position in events, saying how to mend it; nil if it is not;
// errHeadRowMissing (unavailable) if the head's row is missing (deleted in
// the sqlite3 shell, a hand restore part way: every append fails, so
// /readyz must too); the read's error if it fails. A head behind its
// events (log_head edited by hand in the sqlite3 shell, or the tables
// restored from backups taken apart) makes every append fail on a position
// taken, and no retry, nor a restart, mends it. It is logged once at ERROR,
// until Ping finds the head right.
func (s *Store) headBehind(ctx context.Context) error {
	var head, last int64
	err := s.feed.QueryRowContext(ctx, sqlstore.HeadAndLast).Scan(&head, &last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w (%w)", errHeadRowMissing, err)
	case err != nil:
		return s.translate(err)
	case head >= last:
		return nil
	}
	damage := fmt.Errorf("%w: %w: %w: the log's head (log_head.position = %d) is behind the last position in events (%d) in %s: "+
		"events are stored that the head does not count (log_head edited by hand, or the tables restored from backups taken apart), "+
		"and every append fails on a position taken; mend it with sqlite3 %s %q (or restore the whole file from one backup)",
		eventstore.ErrUnavailable, eventstore.ErrDamaged, eventstore.ErrHeadBehind, head, last, s.path, FileName, sqlstore.MendHeadRepair)
	if s.behindSaid.CompareAndSwap(false, true) {
		s.log.Error("the log's head is behind its events: every append answers 503, and /readyz too, until it is mended",
			"path", s.path, "log_head", head, "last_event_position", last, "error", damage.Error())
	}
	return damage
}

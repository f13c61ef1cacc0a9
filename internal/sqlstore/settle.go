package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A group whose COMMIT went out and whose answer never came back (the
// connection lost on the way, or cut at the callers' deadline) may have
// committed: the server runs a round trip it has received whether or not
// its client is still there. Reporting it as failed would tell the clients
// that nothing was written when it was, and a client without event ids that
// retried would write its events twice. So the writer settles it: on a
// connection of its own, it takes the log's lock, which the lost session's
// transaction holds until it commits or rolls back (and which a guarded
// batch still on its way to the server takes before it writes anything),
// and looks for the group's events at the positions it laid them out at. An
// event id alone does not say: a client may choose an id the log holds
// already (a retry, which a group sent in one round trip does not read
// first: its INSERT stops on the unique key, before COMMIT).
//   - There, each event at its position, in its stream at its version: the
//     group committed. Its answers are what the plan laid out, stamped with
//     the time the events hold, once that commit is durable.
//   - Not there: it did not, and never will: under the same lock, settle
//     gives the head a new commit id, so that a guarded batch of the lost
//     session's that the server has yet to run finds the head not as it
//     expects and writes nothing. The group is tried again, as one that a
//     lock or a deadlock stopped, while its callers wait.
// If settling loses its own session, it looks again on another (a few
// times, within settleTimeout: AgainOnLostSession). If settling fails too (the database still
// out of reach, the lost session's transaction still holding the lock when
// settleTimeout is up, the database no longer answering as the stall watch
// says, which ends settling at once, or a commit found that cannot be made
// durable in time: see waitDurable), the outcome is unknown: the append fails as unavailable, with an error
// that says so (errOutcomeUnknown), and the README tells clients to retry
// with event ids.

// settleTimeout bounds how long settling takes, beyond the callers'
// deadline (their requests have a few seconds of grace to answer).
const settleTimeout = 2 * time.Second

// AgainOnLostSession runs do, and runs it again, on another session, while
// it fails with an error by which its session was lost (lost: the
// connection cut, the session killed; not a statement the server refused or
// ended on a live session, which another session meets the same), up to
// three times in all and while ctx lasts. It is for work that commits
// nothing that a second run does not repeat: settling a lost COMMIT, the
// MySQL store's durability fence. Each run but the first is told the error
// that ended the one before. It pauses 50 ms before each, so that a
// database out of reach, which refuses each new connection at once, is not
// asked in a tight loop. It returns the last run's error.
func AgainOnLostSession(ctx context.Context, lost func(error) bool, do func(lostBefore error) error) error {
	const tries, pause = 3, 50 * time.Millisecond
	err := do(nil)
	for try := 1; err != nil && lost != nil && lost(err) && try < tries; try++ {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = do(err)
	}
	return err
}

// errNotCommitted is a group's whose answer was lost, and that settle
// found had not committed, and made sure never will: it may be tried again.
var errNotCommitted = errors.New("the round trip with COMMIT was lost, and it had not committed")

// errCommitNotSent is a group's whose round trips, one statement at a time,
// ended before the one with COMMIT, or that found no connection to send it
// on: it cannot have committed.
var errCommitNotSent = errors.New("COMMIT was not sent")

// errOutcomeUnknown is a group's whose COMMIT's answer was lost, or said
// too little (CommitUncertain), and that settle could not find out about:
// it may have committed.
var errOutcomeUnknown = fmt.Errorf("%w: COMMIT went out, and whether it committed, durably, could not be found out", eventstore.ErrOutcomeUnknown)

// settle reports whether the group p, whose round trip with COMMIT ended
// with the error lost, committed, and the time its events were stamped with.
// If it did not, the error wraps errNotCommitted; if that could not be
// found out, it wraps errOutcomeUnknown and lost, unless lost is not an
// error by which an answer is lost or unread (then it is lost itself).
func (w *writer) settle(p *plan, lost error) (bool, time.Time, error) {
	if w.d.CommitUncertain != nil && len(p.rows) > 0 && !errors.Is(lost, errCommitNotSent) && w.d.CommitUncertain(lost) {
		// Translated as any statement's error is (failure): what failed
		// beneath the database (a file system with no room left, storage
		// that failed) is said, not the driver's bare "disk I/O error".
		if w.d.Translate != nil {
			lost = w.d.Translate(lost)
		}
		w.log.Warn("an append's COMMIT failed as the database synced its log: a restart may find it written, though it reads as not; "+
			"its outcome is unknown", "head", p.head, "error", lost)
		return false, time.Time{}, fmt.Errorf("%w (its COMMIT failed to sync to disk, and a restart may yet find it written): %w", errOutcomeUnknown, lost)
	}
	if !errors.Is(lost, errAnswerUnread) && (w.d.Lost == nil || !w.d.Lost(lost)) || len(p.rows) == 0 {
		return false, time.Time{}, lost
	}
	if errors.Is(lost, errCommitNotSent) {
		// Lost before COMMIT went: rolled back. Nothing to find out, and
		// finding out may well fail as the group did (no connection),
		// calling of unknown outcome what was not written.
		return false, time.Time{}, lost
	}
	if w.d.CannotSettle {
		w.log.Warn("an append's COMMIT went out and its answer was lost; on this database whether it committed cannot be found out",
			"head", p.head, "error", lost)
		return false, time.Time{}, fmt.Errorf("%w (it cannot be settled on this database): %w", errOutcomeUnknown, lost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(w.settleFor, settleTimeout))
	defer cancel()
	// Nothing can be found out while the database does not answer: once
	// the stall watch says so (now, or while settling waits), settling
	// ends, of unknown outcome, rather than wait out its time.
	ctx, unwatch := w.stall.until(ctx)
	defer unwatch()
	// Should settling's own session be lost (killed, cut), it held the
	// log's lock at most, which the server gave up with it, and committed
	// nothing, or a commit id's move, which a second one only repeats: it
	// looks again on another, within the same time.
	var committed bool
	var at time.Time
	err := AgainOnLostSession(ctx, w.d.SessionLost, func(lostBefore error) (err error) {
		if lostBefore != nil {
			w.log.Info("settling an append's lost COMMIT lost its own session; looking again on another", "head", p.head, "settle_error", lostBefore)
		}
		committed, at, err = w.find(ctx, p.rows)
		return err
	})
	if err != nil {
		err = stalledWhileSettling(ctx, err)
		w.log.Warn("an append's COMMIT went out and its answer was lost, and whether it committed could not be found out",
			"head", p.head, "error", lost, "settle_error", err)
		return false, time.Time{}, fmt.Errorf("%w (settling: %v): %w", errOutcomeUnknown, err, lost)
	}
	if !committed {
		return false, time.Time{}, fmt.Errorf("%w: %w", errNotCommitted, lost)
	}
	// Visible to this session's read, which may come before the lost
	// COMMIT's flush: answer once it is durable.
	// If it cannot be made so in time, it may yet be taken back by a crash:
	// its outcome is unknown, as if it could not be found (never a failure
	// that wrote nothing, nor one to try again).
	if err := w.waitDurable(ctx, p.head); err != nil {
		err = stalledWhileSettling(ctx, err)
		w.log.Warn("an append's COMMIT went out and its answer was lost; it committed, and could not be made durable in time",
			"head", p.head, "error", lost, "settle_error", err)
		return false, time.Time{}, fmt.Errorf("%w (it committed, and then did not become durable in time: %v): %w", errOutcomeUnknown, err, lost)
	}
	w.log.Info("an append's COMMIT went out and its answer was lost; it committed", "head", p.head, "error", lost)
	return true, at, nil
}

// stalledWhileSettling is err, settling's, saying that the database
// stopped answering if the stall watch ended ctx, settling's. It never
// wraps the stall's refusal: settling is no request refused unsent.
func stalledWhileSettling(ctx context.Context, err error) error {
	var se *stallError
	if !errors.As(context.Cause(ctx), &se) {
		return err
	}
	return fmt.Errorf("the database stopped answering while settling looked (no answer for %s), and nothing can be found out until it answers: %w",
		se.since.Round(100*time.Millisecond), err)
}

// find looks for rows under the log's lock (see written), and if they are
// not there, moves the head's commit id (see above).
func (w *writer) find(ctx context.Context, rows []row) (bool, time.Time, error) {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return false, time.Time{}, err
	}
	defer conn.Close()
	if w.d.WaitForLocks != nil {
		// A pooled session may refuse locks (RefuseLocks): this one waits
		// for the lost session's, as long as settling may take. The SET
		// stays on the session when it goes back to the writer's pool, as
		// RefuseLocks does after every group: harmless, since every use of
		// that pool sets both waits before anything that can wait for a
		// lock (WaitForLocks before a group's reads, RefuseLocks or
		// GuardedSet before its writes, this SET here).
		w.m.Statement("settle_wait_for_locks")
		deadline, _ := ctx.Deadline()
		if _, err := conn.ExecContext(ctx, w.d.WaitForLocks(time.Until(deadline))); err != nil {
			return false, time.Time{}, fmt.Errorf("wait_for_locks: %w", err)
		}
	}
	w.m.Statement("settle_begin")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, or nothing to undo
	w.m.Statement("settle_lock_head")
	if err := tx.QueryRowContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE").Scan(new(int64)); err != nil {
		return false, time.Time{}, fmt.Errorf("lock_head: %w", err)
	}
	w.m.Statement("settle_find_events")
	committed, at, err := written(ctx, tx, rows)
	if err != nil || committed {
		return committed, at, err
	}
	fence := uuid.New()
	w.m.Statement("settle_move_commit_id")
	if _, err := tx.ExecContext(ctx, "UPDATE log_head SET commit_id = ? WHERE id = 1", fence[:]); err != nil {
		return false, time.Time{}, fmt.Errorf("move_commit_id: %w", err)
	}
	w.m.Statement("settle_commit")
	if err := tx.Commit(); err != nil {
		return false, time.Time{}, fmt.Errorf("commit: %w", err)
	}
	return false, time.Time{}, nil
}

// written reports whether the log holds every one of rows at its position,
// with its id, in its stream at its version, and the time the first is
// stamped with. A group's commit writes them all, and one row missing or
// another in its place says it did not commit. Another append can hold
// them all only if every id is one the clients chose, written just so by
// another process (their retries, through it): then the log holds what the
// answers say. rows are a plan's: at consecutive positions.
func written(ctx context.Context, tx *sql.Tx, rows []row) (bool, time.Time, error) {
	first, last := rows[0].Position, rows[len(rows)-1].Position
	found, err := tx.QueryContext(ctx, "SELECT position, event_id, stream_id, stream_version, recorded_at FROM events "+
		"WHERE position >= ? AND position <= ? ORDER BY position", first, last)
	if err != nil {
		return false, time.Time{}, fmt.Errorf("find_events: %w", err)
	}
	defer found.Close()
	var at time.Time
	n, same := 0, true
	for found.Next() {
		var position, version int64
		var id, stream []byte
		var recorded time.Time
		if err := found.Scan(&position, &id, &stream, &version, &recorded); err != nil {
			return false, time.Time{}, fmt.Errorf("find_events: %w", err)
		}
		if n == 0 {
			at = recorded.UTC()
		}
		if n >= len(rows) || position != rows[n].Position || !bytes.Equal(id, rows[n].Event.ID[:]) ||
			!bytes.Equal(stream, rows[n].StreamID[:]) || version != rows[n].Version {
			same = false
		}
		n++
	}
	if err := found.Err(); err != nil {
		return false, time.Time{}, fmt.Errorf("find_events: %w", err)
	}
	if !same || n != len(rows) {
		return false, time.Time{}, nil
	}
	return true, at, nil
}

package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A read replica found serving another log than the primary's (ReplicaLag:
// its head past the primary's, or another event at its head) was said only
// by /readyz, while every read and subscription went on serving that log's
// events as the primary's. Once ReplicaLag finds it so (each /readyz check
// and each read that waits for a position asks it), the clients' reads are
// refused with its error, wrapping eventstore.ErrReplicaOtherLog, until a
// later ReplicaLag finds the two logs the same again.

// otherLogError is what ReplicaLag found last: the replica's other log's
// error, or nil. lost is the position of an event the replica was found to
// lack while it has later ones (lostEventError), 0 where that is not why.
type otherLogError struct {
	err  error
	lost int64
}

// noteOtherLog keeps err, ReplicaLag's, for the reads to refuse with, where
// it says the replica serves another log, and forgets it where err is nil
// (the logs compared the same); any other error judges nothing.
func (s *Store) noteOtherLog(err error) {
	if err != nil && !errors.Is(err, eventstore.ErrReplicaOtherLog) {
		return // not judged: the last finding stands
	}
	var was *otherLogError
	var le *lostEventError
	switch {
	case err == nil:
		was = s.otherLog.Swap(nil)
	case errors.As(err, &le):
		was = s.otherLog.Swap(&otherLogError{err: err, lost: le.position})
	default:
		was = s.otherLog.Swap(&otherLogError{err: err})
	}
	switch {
	case err != nil && was == nil:
		s.log.Error("the read replica serves another log than the primary's: clients' reads are refused (503, replica_other_log) until it is mended",
			"replica", s.replica.Addr, "error", err)
	case err == nil && was != nil:
		s.log.Info("the read replica's log is the primary's again: clients' reads are served", "replica", s.replica.Addr)
	}
}

// otherLogRecheck is how often, at most, a read refused for the
// replica's other log checks the logs again itself (otherLogRefusal).
const otherLogRecheck = time.Second

// otherLogRefusal is the reads' refusal while the replica was last found
// serving another log, else nil. The finding was refreshed only by
// ReplicaLag's callers (/readyz, a read waiting for a position): with none
// of those (no readiness probe, reads only), a replica briefly ahead in a
// failover, or mended, had every read refused for good. So a refused read
// checks the logs again (ReplicaLag), one read at a time and at most each
// otherLogRecheck, and is served if they match; the others are refused
// meanwhile.
func (s *Store) otherLogRefusal(ctx context.Context) error {
	o := s.otherLog.Load()
	if o == nil {
		return nil
	}
	last, now := s.otherLogChecked.Load(), time.Now().UnixNano()
	if now-last < int64(otherLogRecheck) || !s.otherLogChecked.CompareAndSwap(last, now) {
		return o.err
	}
	_, _ = s.ReplicaLag(ctx) // it notes its finding (noteOtherLog), read next
	if o := s.otherLog.Load(); o != nil {
		return o.err
	}
	return nil
}

// replicaUnreachable is a read's error while the read replica's stall
// watch holds it stalled, or one of the replica's whose address does not
// answer (translateReplica): the replica's outage, not the primary's, said
// so (ReadReplica) for the HTTP layer's 503 to name it, where it said the
// database cannot be reached.
type replicaUnreachable struct{ error }

func (e replicaUnreachable) Unwrap() error { return e.error }

// ReadReplica reports that the error is the read replica's outage.
func (replicaUnreachable) ReadReplica() bool { return true }

// replicaRead is err, of a read of the read replica, marked as the
// replica's outage (replicaUnreachable) where it is the stall watch's
// refusal or cut (a net.Error that timed out) while the watch holds the
// replica stalled.
func (s *Store) replicaRead(err error) error {
	var ne net.Error
	if err == nil || s.replica == nil || !errors.As(err, &ne) || !ne.Timeout() || s.replicaStalled() == nil {
		return err
	}
	return replicaUnreachable{err}
}

// Stream implements eventstore.Store, refused while the replica serves
// another log (otherLogRefusal).
func (s *Store) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.Stream{}, err
	}
	st, err := s.Store.Stream(ctx, id)
	return st, s.replicaRead(err)
}

// ReadStream implements eventstore.Store, as Stream; its page fails at a
// version the replica lost (streamWithoutHoles).
func (s *Store) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.StreamPage{}, err
	}
	page, err := s.Store.ReadStream(ctx, id, opts)
	if err == nil && s.replica != nil && page.Events != nil {
		page.Events = s.streamWithoutHoles(ctx, id, opts, page) // a version the replica lost
	}
	return page, s.replicaRead(err)
}

// Event implements eventstore.Store, as Stream; an event the replica lost
// below its stream's version is not "not found" (lostVersion).
func (s *Store) Event(ctx context.Context, streamID uuid.UUID, version int64) (eventstore.Event, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.Event{}, err
	}
	e, err := s.Store.Event(ctx, streamID, version)
	if lost := s.lostVersion(ctx, err, streamID, version); lost != nil {
		return eventstore.Event{}, lost
	}
	return e, s.replicaRead(err)
}

// EventPosition implements eventstore.Store, as Event.
func (s *Store) EventPosition(ctx context.Context, streamID uuid.UUID, version int64) (int64, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return 0, err
	}
	p, err := s.Store.EventPosition(ctx, streamID, version)
	if lost := s.lostVersion(ctx, err, streamID, version); lost != nil {
		return 0, lost
	}
	return p, s.replicaRead(err)
}

// ReadAll implements eventstore.Store, as Stream; a page of the whole log,
// or of one stream's, fails at an event the replica lost (withoutHoles).
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.LogPage{}, err
	}
	page, err := s.Store.ReadAll(ctx, opts)
	if err == nil && s.replica != nil {
		page.Events = s.withoutHoles(ctx, opts, page.Events) // a position or version the replica lost
	}
	return page, s.replicaRead(err)
}

// ListStreams implements eventstore.Store, as Stream.
func (s *Store) ListStreams(ctx context.Context, opts eventstore.ListStreamsOptions) (eventstore.StreamList, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.StreamList{}, err
	}
	list, err := s.Store.ListStreams(ctx, opts)
	return list, s.replicaRead(err)
}

// Head implements eventstore.Store (a subscription's start), as Stream.
func (s *Store) Head(ctx context.Context) (int64, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return 0, err
	}
	head, err := s.Store.Head(ctx)
	return head, s.replicaRead(err)
}

// Tail implements eventstore.Store: the live feed's reads, on the read
// replica where there is one, and then refused as the clients' reads are
// (otherLogRefusal) while it serves another log. They were not: a
// subscription already open went on being handed that log's events as the
// primary's while every read was refused. The feed's polls, refused, hand
// out nothing, and check the logs again at most each otherLogRecheck (so
// a replica mended is served again with no /readyz); a log found gone back
// under the feed once the logs are the same ends its subscriptions, as a
// restore does.
func (s *Store) Tail() eventstore.LogTail {
	if s.replica == nil {
		return s.Store.Tail()
	}
	return otherLogTail{s.Store.Tail(), s}
}

// otherLogTail is the store's LogTail whose reads are first refused while
// the replica serves another log.
type otherLogTail struct {
	eventstore.LogTail
	s *Store
}

// Head implements eventstore.LogTail.
func (t otherLogTail) Head(ctx context.Context) (int64, error) {
	if err := t.s.otherLogRefusal(ctx); err != nil {
		return 0, err
	}
	return t.LogTail.Head(ctx)
}

// ReadAll implements eventstore.LogTail.
func (t otherLogTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := t.s.otherLogRefusal(ctx); err != nil {
		return eventstore.LogPage{}, err
	}
	return t.LogTail.ReadAll(ctx, opts)
}

// IDAt implements eventstore.LogTail.
func (t otherLogTail) IDAt(ctx context.Context, position int64) (uuid.UUID, error) {
	if err := t.s.otherLogRefusal(ctx); err != nil {
		return uuid.Nil, err
	}
	return t.LogTail.IDAt(ctx, position)
}

// A replica that lost events the primary wrote (a transaction skipped on it
// with sql_slave_skip_counter, gtid_slave_pos moved past one, a relay log
// lost) shows a hole in the log below events it has. The live feed took
// such a hole, once it outlasted its patience, for rows removed by hand,
// and skipped it: its subscribers never got the event, a read waiting for
// its position (log_head had passed it) was answered without it, and
// /readyz said all was well. The feed asks the store (MissingFromLog)
// before it skips: where the primary has the event, the replica serves
// another log than the primary's, and is refused as one found so by
// ReplicaLag, until it has the event again (rebuilt from the primary).

// ErrReplicaLostEvents is wrapped by the error of a read replica found
// lacking an event that the primary has, below events it has: it is
// wrapped with eventstore.ErrReplicaOtherLog.
var ErrReplicaLostEvents = errors.New("the read replica lacks events the primary has")

// lostEventError is the error of a read replica that lacks the event at
// position, which the primary has, while it has later ones.
type lostEventError struct{ position int64 }

func (e *lostEventError) Error() string {
	return fmt.Sprintf("%s: %s: %s: it lacks the event at position %d, which the primary has, and holds later ones: it lost events "+
		"the primary wrote (a transaction skipped on it, with sql_slave_skip_counter or by moving gtid_slave_pos, or its relay log lost); "+
		"rebuild it from the primary", eventstore.ErrUnavailable, eventstore.ErrReplicaOtherLog, ErrReplicaLostEvents, e.position)
}

// Unwrap makes the error eventstore.ErrUnavailable, eventstore.ErrReplicaOtherLog
// and ErrReplicaLostEvents.
func (e *lostEventError) Unwrap() []error {
	return []error{eventstore.ErrUnavailable, eventstore.ErrReplicaOtherLog, ErrReplicaLostEvents}
}

// eventOn reports whether db (the primary's or the replica's pool) holds
// an event at position.
func (s *Store) eventOn(ctx context.Context, db *sql.DB, position int64) (bool, error) {
	const q = "SELECT event_id FROM events WHERE position = ?"
	var id []byte
	err := s.readOnce(ctx, "replica_same_log", db, func() error { return db.QueryRowContext(ctx, q, position).Scan(&id) })
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil && db == s.primary:
		return false, fmt.Errorf("read the primary's event at %d: %w", position, s.translate(err))
	case err != nil:
		return false, fmt.Errorf("read the replica's event at %d: %w", position, s.translateReplica(err))
	}
	return true, nil
}

// missingFromLog is the live feed's question (LogTail's MissingFromLog) about
// position, missing from the replica's log below events it has, for longer
// than a commit takes to show: nil where the primary has no event there
// either (a row removed by hand: the feed skips it); an error otherwise,
// which the feed retries and never skips past: the primary's, where it
// cannot be asked; one wrapping eventstore.ErrUnavailable where the
// replica has the event now; and, where the primary has it and the replica
// still not, a lostEventError, noted (noteOtherLog) so that every read of
// the replica, the feed's too, is refused until it has it again.
func (s *Store) missingFromLog(ctx context.Context, position int64) error {
	if err := s.stalled(); err != nil {
		return fmt.Errorf("look for the event at %d on the primary: %w", position, err)
	}
	onPrimary, err := s.eventOn(ctx, s.primary, position)
	if err != nil || !onPrimary {
		return err
	}
	if onReplica, err := s.eventOn(ctx, s.feed, position); err != nil {
		return err
	} else if onReplica {
		return fmt.Errorf("%w: the read replica has the event at %d now: read it again", eventstore.ErrUnavailable, position)
	}
	err = &lostEventError{position: position}
	s.noteOtherLog(err)
	return err
}

// stillLost is ReplicaLag's look again at a replica found lacking the
// event at o.lost (missingFromLog): the lostEventError while it lacks it
// below its head replicaHead and the primary has it; nil once it has it
// (rebuilt from the primary), its head is below it (being rebuilt, it
// lags), or the primary has it no more (removed by hand there too).
func (s *Store) stillLost(ctx context.Context, o *otherLogError, replicaHead int64) error {
	if o == nil || o.lost == 0 || replicaHead < o.lost {
		return nil
	}
	onReplica, err := s.eventOn(ctx, s.feed, o.lost)
	if err != nil || onReplica {
		return err
	}
	onPrimary, err := s.eventOn(ctx, s.primary, o.lost)
	if err != nil || !onPrimary {
		return err
	}
	return o.err
}

// MissingFromLog implements eventstore.LogTail: see missingFromLog.
func (t otherLogTail) MissingFromLog(ctx context.Context, position int64) error {
	return t.s.missingFromLog(ctx, position)
}

// HasPosition reports, for a read that waited until the read replica's head
// reached position (Tributary-Min-Position), whether the replica holds the
// events up to it: the one there and the positionWindow (100) below it. It is
// nil where it does, or where the primary has none of those it lacks
// either (rows removed by hand); the lostEventError where the primary has
// one (missingFromLog), noted, as the live feed's finding is. The event at
// position alone was looked at: a replica that had lost one below it
// passed, and the read that followed was served without it wherever its
// pages do not cross the hole (a stream whose last event it was, the log
// after it). One count on the replica by the primary key; the positions
// are compared with the primary's only where it is short.
func (s *Store) HasPosition(ctx context.Context, position int64) error {
	if s.replica == nil || position <= 0 {
		return nil
	}
	lo := max(position-positionWindow, 0)
	// On the clients' read pool: the feed's three connections are the
	// tailer's.
	var n int64
	const count = "SELECT COUNT(*) FROM events WHERE position > ? AND position <= ?"
	err := s.readOnce(ctx, "replica_hole", s.reads, func() error { return s.reads.QueryRowContext(ctx, count, lo, position).Scan(&n) })
	if err != nil {
		return s.replicaRead(fmt.Errorf("count the read replica's events up to %d: %w", position, s.translateReplica(err)))
	}
	if n == position-lo {
		return nil
	}
	p, err := s.firstLost(ctx, lo, position)
	if err != nil || p == 0 {
		return err
	}
	return s.missingFromLog(ctx, p)
}

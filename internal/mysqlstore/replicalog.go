package mysqlstore

import (
	"context"
	"errors"
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
// error, or nil.
type otherLogError struct{ err error }

// noteOtherLog keeps err, ReplicaLag's, for the reads to refuse with, where
// it says the replica serves another log, and forgets it where err is nil
// (the logs compared the same); any other error judges nothing.
func (s *Store) noteOtherLog(err error) {
	if err != nil && !errors.Is(err, eventstore.ErrReplicaOtherLog) {
		return // not judged: the last finding stands
	}
	var was *otherLogError
	if err == nil {
		was = s.otherLog.Swap(nil)
	} else {
		was = s.otherLog.Swap(&otherLogError{err})
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

// Stream implements eventstore.Store, refused while the replica serves
// another log (otherLogRefusal).
func (s *Store) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.Stream{}, err
	}
	return s.Store.Stream(ctx, id)
}

// ReadStream implements eventstore.Store, as Stream.
func (s *Store) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.StreamPage{}, err
	}
	return s.Store.ReadStream(ctx, id, opts)
}

// Event implements eventstore.Store, as Stream.
func (s *Store) Event(ctx context.Context, streamID uuid.UUID, version int64) (eventstore.Event, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.Event{}, err
	}
	return s.Store.Event(ctx, streamID, version)
}

// EventPosition implements eventstore.Store, as Stream.
func (s *Store) EventPosition(ctx context.Context, streamID uuid.UUID, version int64) (int64, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return 0, err
	}
	return s.Store.EventPosition(ctx, streamID, version)
}

// ReadAll implements eventstore.Store, as Stream.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.LogPage{}, err
	}
	return s.Store.ReadAll(ctx, opts)
}

// ListStreams implements eventstore.Store, as Stream.
func (s *Store) ListStreams(ctx context.Context, opts eventstore.ListStreamsOptions) (eventstore.StreamList, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return eventstore.StreamList{}, err
	}
	return s.Store.ListStreams(ctx, opts)
}

// Head implements eventstore.Store (a subscription's start), as Stream.
func (s *Store) Head(ctx context.Context) (int64, error) {
	if err := s.otherLogRefusal(ctx); err != nil {
		return 0, err
	}
	return s.Store.Head(ctx)
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

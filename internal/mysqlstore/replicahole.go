package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A read replica that lost an event the primary has (missingFromLog) was
// found so only by the live feed, for a hole it met as it happened, and by
// a Tributary-Min-Position at that very position: a page of the log or of
// a stream read from it was answered 200 with the hole, and a reader
// rebuilding an aggregate silently missed the event. Positions are dense,
// and so are a stream's versions: a page of the whole log (no filter) that
// skips a position, or a page of a stream (or of the log of one stream)
// that skips a version, has lost it, or had it removed by hand. The check
// costs nothing while none is skipped; where one is, the primary is asked
// (one look by key): where it has an event there, the page fails at the
// hole with the lostEventError, noted, so that every read is refused until
// the replica has it again (ReplicaLag looks again: stillLost); where it
// has none either (a row removed by hand), the page goes on, as before. A hole younger than a
// commit on its way is sqlstore's visibility check's: it ends the page
// short of it, or waits, so none reaches here. A page filtered on types is
// not dense, and is not judged.

// logWithoutHoles is events, a page of the whole log after after, failing
// at a position it skips that the primary has an event at.
func (s *Store) logWithoutHoles(ctx context.Context, events iter.Seq2[eventstore.Event, error], after int64) iter.Seq2[eventstore.Event, error] {
	return func(yield func(eventstore.Event, error) bool) {
		next := after + 1
		for e, err := range events {
			if err == nil && e.Position > next {
				if err := s.holeInLog(ctx, next, e.Position-1); err != nil {
					yield(eventstore.Event{}, err)
					return
				}
			}
			if !yield(e, err) {
				return
			}
			if err == nil {
				next = e.Position + 1
			}
		}
	}
}

// oneStreamWithoutHoles is events, a page of the log of stream id alone
// (ReadAllOptions.StreamID, no other filter: a stream subscription's
// catch-up), failing at a version it skips between two of its events that
// the primary has an event at: one stream's events in position order have
// dense versions. Its first event's version is judged too, where it is
// past 1 (lostBefore): a subscription resumed from a version the replica
// lost starts after the version before it, and its catch-up's first event
// was the one after the lost one, handed on without it.
func (s *Store) oneStreamWithoutHoles(ctx context.Context, id uuid.UUID, after int64, events iter.Seq2[eventstore.Event, error]) iter.Seq2[eventstore.Event, error] {
	return func(yield func(eventstore.Event, error) bool) {
		var last int64 // the version yielded last, 0 before the first
		for e, err := range events {
			if err == nil && last == 0 && e.Version > 1 {
				if err := s.lostBefore(ctx, id, after, e.Version); err != nil {
					yield(eventstore.Event{}, err)
					return
				}
			}
			if err == nil && last > 0 && e.Version > last+1 {
				if err := s.holeInStream(ctx, id, last+1, e.Version-1); err != nil {
					yield(eventstore.Event{}, err)
					return
				}
			}
			if !yield(e, err) {
				return
			}
			if err == nil {
				last = e.Version
			}
		}
	}
}

// lostBefore is nil where the read replica has version-1 of stream id,
// which the first event of a page of the stream's log after after, at
// version, follows: one look by key on the replica. Where it lacks it, the
// primary is asked for the stream's events below version after after
// (those the page should have begun with): missingFromLog's error for the
// first it has, nil where it has none (removed by hand there too, or all at
// or before after).
func (s *Store) lostBefore(ctx context.Context, id uuid.UUID, after, version int64) error {
	const q = "SELECT position FROM events WHERE stream_id = ? AND stream_version = ?"
	var p int64
	err := s.readOnce(ctx, "replica_hole", s.reads, func() error { return s.reads.QueryRowContext(ctx, q, id[:], version-1).Scan(&p) })
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return s.replicaRead(fmt.Errorf("read the read replica's event %d of stream %s: %w", version-1, id, s.translateReplica(err)))
	}
	p, err = s.primaryPosition(ctx, "SELECT MIN(position) FROM events WHERE stream_id = ? AND stream_version < ? AND position > ?", id[:], version, after)
	if err != nil || p == 0 {
		return err
	}
	return s.missingFromLog(ctx, p)
}

// holeInLog is nil where the primary has no event at positions lo to hi,
// which a page of the replica's log skipped; else missingFromLog's error
// for the first it has.
func (s *Store) holeInLog(ctx context.Context, lo, hi int64) error {
	p, err := s.primaryPosition(ctx, "SELECT MIN(position) FROM events WHERE position BETWEEN ? AND ?", lo, hi)
	if err != nil || p == 0 {
		return err
	}
	return s.missingFromLog(ctx, p)
}

// streamWithoutHoles is page's events, a page of stream id read with opts,
// failing at a version it skips that the primary has an event at: between
// the versions it yields, and between them and the page's ends (its first
// version asked for, its last: before page.Next, or the stream's end or
// start). A FirstOnly page (HEAD) reads one event, and is judged at it
// alone: where the replica lost it, the page yielded nothing and HEAD
// answered 200 for a page whose GET fails.
func (s *Store) streamWithoutHoles(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions, page eventstore.StreamPage) iter.Seq2[eventstore.Event, error] {
	events, version := page.Events, page.Stream.Version
	return func(yield func(eventstore.Event, error) bool) {
		// next is the version expected next; end the last of the page.
		next, end, step := max(opts.From, 1), version, int64(1)
		if page.Next != 0 {
			end = page.Next - 1
		}
		if opts.Direction == eventstore.Backward {
			next, end, step = opts.From, 1, -1
			if next == 0 || next > version {
				next = version
			}
			if page.Next != 0 {
				end = page.Next + 1
			}
		}
		if opts.FirstOnly && (end-next)*step > 0 {
			end = next
		}
		for e, err := range events {
			if err == nil && (e.Version-next)*step > 0 {
				if err := s.holeInStream(ctx, id, min(next, e.Version-step), max(next, e.Version-step)); err != nil {
					yield(eventstore.Event{}, err)
					return
				}
			}
			if !yield(e, err) {
				return
			}
			if err == nil {
				next = e.Version + step
			}
		}
		if version == 0 || (end-next)*step < 0 {
			return
		}
		if err := s.holeInStream(ctx, id, min(next, end), max(next, end)); err != nil {
			yield(eventstore.Event{}, err)
		}
	}
}

// holeInStream is holeInLog for versions lo to hi of stream id.
func (s *Store) holeInStream(ctx context.Context, id uuid.UUID, lo, hi int64) error {
	p, err := s.primaryPosition(ctx, "SELECT MIN(position) FROM events WHERE stream_id = ? AND stream_version BETWEEN ? AND ?", id[:], lo, hi)
	if err != nil || p == 0 {
		return err
	}
	return s.missingFromLog(ctx, p)
}

// lostVersion is, for err, a read of event version of stream id on the
// read replica, the lostEventError where err is eventstore.ErrEventNotFound
// while the replica's stream has later versions and the primary has that
// one: a 404 there told a client that an event the primary holds does not
// exist. Else nil (err stands). Only a version not found asks, the
// replica first: the primary only where the stream has passed it.
func (s *Store) lostVersion(ctx context.Context, err error, id uuid.UUID, version int64) error {
	if s.replica == nil || !errors.Is(err, eventstore.ErrEventNotFound) {
		return nil
	}
	st, serr := s.Store.Stream(ctx, id)
	if serr != nil || st.Version <= version {
		return nil
	}
	if err := s.holeInStream(ctx, id, version, version); err != nil {
		return fmt.Errorf("read event %d of stream %s: %w", version, id, err)
	}
	return nil
}

// positionWindow is how many positions below a read's
// Tributary-Min-Position HasPosition looks at, besides the position
// itself: the read's own earlier appends, as a client that reads its
// writes made them. Holes further below are the pages' to meet
// (logWithoutHoles, streamWithoutHoles).
const positionWindow = 100

// firstLost is the first position after lo and up to hi at which the
// primary has an event and the read replica has none, 0 where there is
// none: both lists read whole (at most positionWindow+1 positions each).
func (s *Store) firstLost(ctx context.Context, lo, hi int64) (int64, error) {
	const q = "SELECT position FROM events WHERE position > ? AND position <= ? ORDER BY position"
	positions := func(db *sql.DB) (list []int64, err error) {
		err = s.readOnce(ctx, "replica_hole", db, func() error {
			list = list[:0]
			rows, err := db.QueryContext(ctx, q, lo, hi)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var p int64
				if err := rows.Scan(&p); err != nil {
					return err
				}
				list = append(list, p)
			}
			return rows.Err()
		})
		return list, err
	}
	onReplica, err := positions(s.reads)
	if err != nil {
		return 0, s.replicaRead(fmt.Errorf("read the read replica's positions up to %d: %w", hi, s.translateReplica(err)))
	}
	if err := s.stalled(); err != nil {
		return 0, fmt.Errorf("look on the primary for an event the read replica lacks: %w", err)
	}
	onPrimary, err := positions(s.primary)
	if err != nil {
		return 0, fmt.Errorf("look on the primary for an event the read replica lacks: %w", s.translate(err))
	}
	for _, p := range onPrimary {
		if _, found := slices.BinarySearch(onReplica, p); !found {
			return p, nil
		}
	}
	return 0, nil
}

// primaryPosition runs q, which returns one position or NULL, on the
// primary: 0 for NULL.
func (s *Store) primaryPosition(ctx context.Context, q string, args ...any) (int64, error) {
	if err := s.stalled(); err != nil {
		return 0, fmt.Errorf("look on the primary for an event the read replica lacks: %w", err)
	}
	var p sql.NullInt64
	err := s.readOnce(ctx, "replica_hole", s.primary, func() error { return s.primary.QueryRowContext(ctx, q, args...).Scan(&p) })
	if err != nil {
		return 0, fmt.Errorf("look on the primary for an event the read replica lacks: %w", s.translate(err))
	}
	return p.Int64, nil
}

// withoutHoles is page's events, read with opts on the read replica,
// failing at an event the replica lost where the page's positions
// (the whole log: logWithoutHoles) or versions (one stream:
// oneStreamWithoutHoles) are dense; pages filtered on types are not.
func (s *Store) withoutHoles(ctx context.Context, opts eventstore.ReadAllOptions, events iter.Seq2[eventstore.Event, error]) iter.Seq2[eventstore.Event, error] {
	switch {
	case events == nil || len(opts.StreamTypes) > 0 || len(opts.EventTypes) > 0:
		return events
	case opts.StreamID != uuid.Nil:
		return s.oneStreamWithoutHoles(ctx, opts.StreamID, opts.After, events)
	}
	return s.logWithoutHoles(ctx, events, opts.After)
}

package sqlitestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// The reads of eventstore.Store, and the live feed's (Tail), first check
// that the database file is where the store opened it (checkFile), as
// appends and Ping do, and that it was not overwritten (checkReading, which
// looks as an append does: an instance that only serves reads would
// otherwise never look). A reading connection already open reads the file it opened
// whatever became of its name, while a new one is refused (fileConnector):
// with the file moved aside, a read answered 200 or 503 by which
// connection the pool handed it, and the live feed, whose connections stay
// open, served its subscribers from the moved file, or from a copy put over
// it, while /readyz answered 503.

// checkReading is checkFile, and the look for a file overwritten
// (lookWhileReading), for a read.
func (s *Store) checkReading() error {
	if err := s.checkFile(); err != nil {
		return err
	}
	return s.lookWhileReading()
}

// Tail implements eventstore.Store: the live feed's reads, checked as the
// others are.
func (s *Store) Tail() eventstore.LogTail { return checkedTail{s.Store.Tail(), s} }

// checkedTail is the store's LogTail whose reads first run checkReading.
type checkedTail struct {
	eventstore.LogTail
	s *Store
}

// Head implements eventstore.LogTail.
func (t checkedTail) Head(ctx context.Context) (int64, error) {
	if err := t.s.checkReading(); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	head, err := t.LogTail.Head(ctx)
	return head, t.s.sayHeadBehind(ctx, "read log head", err)
}

// ReadAll implements eventstore.LogTail. A read that met events past the
// log's head (eventstore.ErrHeadBehind) says so as appends do
// (headBehind): with the file's path and the sqlite3 command that mends
// it, logged once at ERROR.
func (t checkedTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := t.s.checkReading(); err != nil {
		return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, err)
	}
	page, err := t.LogTail.ReadAll(ctx, opts)
	return page, t.s.sayHeadBehind(ctx, fmt.Sprintf("read log after %d", opts.After), err)
}

// sayHeadBehind returns err, a read's (what it read): where it met events
// past the log's head (eventstore.ErrHeadBehind), the store's own words
// for that damage (headBehind: with the file's path and the sqlite3
// command that mends it, logged once at ERROR).
func (s *Store) sayHeadBehind(ctx context.Context, what string, err error) error {
	if errors.Is(err, eventstore.ErrHeadBehind) {
		if derr := s.headBehind(ctx); errors.Is(derr, eventstore.ErrHeadBehind) {
			return fmt.Errorf("%s: %w", what, derr)
		}
	}
	return err
}

// IDAt implements eventstore.LogTail.
func (t checkedTail) IDAt(ctx context.Context, position int64) (uuid.UUID, error) {
	if err := t.s.checkReading(); err != nil {
		return uuid.Nil, fmt.Errorf("read the event id at %d: %w", position, err)
	}
	return t.LogTail.IDAt(ctx, position)
}

// Stream implements eventstore.Store.
func (s *Store) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if err := s.checkReading(); err != nil {
		return eventstore.Stream{}, fmt.Errorf("read stream %s: %w", id, err)
	}
	return s.Store.Stream(ctx, id)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	if err := s.checkReading(); err != nil {
		return eventstore.StreamPage{}, fmt.Errorf("read stream %s: %w", id, err)
	}
	return s.Store.ReadStream(ctx, id, opts)
}

// Event implements eventstore.Store.
func (s *Store) Event(ctx context.Context, streamID uuid.UUID, version int64) (eventstore.Event, error) {
	if err := s.checkReading(); err != nil {
		return eventstore.Event{}, fmt.Errorf("read event %d of stream %s: %w", version, streamID, err)
	}
	return s.Store.Event(ctx, streamID, version)
}

// EventPosition implements eventstore.Store.
func (s *Store) EventPosition(ctx context.Context, streamID uuid.UUID, version int64) (int64, error) {
	if err := s.checkReading(); err != nil {
		return 0, fmt.Errorf("read the position of event %d of stream %s: %w", version, streamID, err)
	}
	return s.Store.EventPosition(ctx, streamID, version)
}

// ReadAll implements eventstore.Store; a page that met events past the
// log's head says so as the live feed's reads do (sayHeadBehind).
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := s.checkReading(); err != nil {
		return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, err)
	}
	page, err := s.Store.ReadAll(ctx, opts)
	return page, s.sayHeadBehind(ctx, fmt.Sprintf("read log after %d", opts.After), err)
}

// ListStreams implements eventstore.Store.
func (s *Store) ListStreams(ctx context.Context, opts eventstore.ListStreamsOptions) (eventstore.StreamList, error) {
	if err := s.checkReading(); err != nil {
		return eventstore.StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	return s.Store.ListStreams(ctx, opts)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (int64, error) {
	if err := s.checkReading(); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	return s.Store.Head(ctx)
}

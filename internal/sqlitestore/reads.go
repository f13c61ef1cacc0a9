package sqlitestore

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// The reads of eventstore.Store first check that the database file is
// where the store opened it (checkFile), as appends and Ping do. A reading
// connection already open reads the file it opened whatever became of its
// name, while a new one is refused (fileConnector): with the file moved
// aside, a read answered 200 or 503 by which connection the pool handed it.
// The live feed's reads (Tail) are not checked: its connections already
// open serve what the log held, and new ones are refused.

// Stream implements eventstore.Store.
func (s *Store) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if err := s.checkFile(); err != nil {
		return eventstore.Stream{}, fmt.Errorf("read stream %s: %w", id, err)
	}
	return s.Store.Stream(ctx, id)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	if err := s.checkFile(); err != nil {
		return eventstore.StreamPage{}, fmt.Errorf("read stream %s: %w", id, err)
	}
	return s.Store.ReadStream(ctx, id, opts)
}

// Event implements eventstore.Store.
func (s *Store) Event(ctx context.Context, streamID uuid.UUID, version int64) (eventstore.Event, error) {
	if err := s.checkFile(); err != nil {
		return eventstore.Event{}, fmt.Errorf("read event %d of stream %s: %w", version, streamID, err)
	}
	return s.Store.Event(ctx, streamID, version)
}

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := s.checkFile(); err != nil {
		return eventstore.LogPage{}, fmt.Errorf("read log after %d: %w", opts.After, err)
	}
	return s.Store.ReadAll(ctx, opts)
}

// ListStreams implements eventstore.Store.
func (s *Store) ListStreams(ctx context.Context, opts eventstore.ListStreamsOptions) (eventstore.StreamList, error) {
	if err := s.checkFile(); err != nil {
		return eventstore.StreamList{}, fmt.Errorf("list streams: %w", err)
	}
	return s.Store.ListStreams(ctx, opts)
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (int64, error) {
	if err := s.checkFile(); err != nil {
		return 0, fmt.Errorf("read log head: %w", err)
	}
	return s.Store.Head(ctx)
}

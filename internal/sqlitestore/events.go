package sqlitestore

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// The reads below hand out an event only if its data and metadata are
// still what an append took, JSON in UTF-8: SQLite keeps no checksum of a
// row, so a byte gone bad inside one was read back as it was, and served
// with a 200 as an answer that is not JSON. Such an event is damage in the
// file, reported as translate reports what SQLite finds.

// ReadAll implements eventstore.Store.
func (s *Store) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	page, err := s.Store.ReadAll(ctx, opts)
	page.Events = s.checked(page.Events)
	return page, err
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, id uuid.UUID, opts eventstore.ReadStreamOptions) (eventstore.StreamPage, error) {
	page, err := s.Store.ReadStream(ctx, id, opts)
	page.Events = s.checked(page.Events)
	return page, err
}

// Event implements eventstore.Store.
func (s *Store) Event(ctx context.Context, streamID uuid.UUID, version int64) (eventstore.Event, error) {
	e, err := s.Store.Event(ctx, streamID, version)
	if err != nil {
		return e, err
	}
	if err := s.checkEvent(e); err != nil {
		return eventstore.Event{}, err
	}
	return e, nil
}

// Tail implements eventstore.Store: the live feed reads checked events too.
func (s *Store) Tail() eventstore.LogTail { return checkedTail{s.Store.Tail(), s} }

type checkedTail struct {
	eventstore.LogTail
	s *Store
}

func (t checkedTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	page, err := t.LogTail.ReadAll(ctx, opts)
	page.Events = t.s.checked(page.Events)
	return page, err
}

// checked yields the events of events, and in place of the first whose
// data or metadata is damaged, its error, and then stops.
func (s *Store) checked(events iter.Seq2[eventstore.Event, error]) iter.Seq2[eventstore.Event, error] {
	if events == nil {
		return nil
	}
	return func(yield func(eventstore.Event, error) bool) {
		for e, err := range events {
			if err == nil {
				if err := s.checkEvent(e); err != nil {
					yield(eventstore.Event{}, err)
					return
				}
			}
			if !yield(e, err) {
				return
			}
		}
	}
}

// checkEvent returns the damage error (see foundDamage) of an event whose
// data or metadata is not JSON in UTF-8, which no append wrote.
func (s *Store) checkEvent(e eventstore.Event) error {
	if utf8.Valid(e.Data) && json.Valid(e.Data) && (e.Metadata == nil || utf8.Valid(e.Metadata) && json.Valid(e.Metadata)) {
		return nil
	}
	return s.foundDamage(fmt.Errorf("the event at position %d (version %d of stream %s) holds data or metadata that is not JSON in UTF-8, as no append wrote it",
		e.Position, e.Version, e.StreamID))
}

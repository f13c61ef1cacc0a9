package sqlstore

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestTheChunksOfASparseFilteredPageReadItsEventsNotItsSpan: a page of the
// log too large to read whole is read as its positions, then its events
// in chunks. A chunk read the filter's matches between the page's first
// and last positions, and on MariaDB a filter on several names was read
// through the primary key, every event of that span: a page of 100 events
// of a stream type one event in 400 has, read 40,000 rows. The chunks read
// the page's events by their positions: about a page of rows, whatever
// the span (the session's Handler_read counters).
func TestTheChunksOfASparseFilteredPageReadItsEventsNotItsSpan(t *testing.T) {
	t.Parallel()
	const events, every, limit = 40_000, 400, minFirstChunkRows + 1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := oneSession(mysqlDB(t))                // its counters are its statements'
	writeTypedEvents(ctx, t, db, events, every) // 100 events of stream type rare
	r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: ForceIndex}
	for _, sh := range []struct{ streamTypes, eventTypes []string }{
		{[]string{"rare", "none"}, nil},
		{[]string{"rare", "none"}, []string{"Rare", "Common"}},
	} {
		what := shapeName(sh.streamTypes, sh.eventTypes)
		opts := eventstore.ReadAllOptions{Limit: limit, StreamTypes: sh.streamTypes, EventTypes: sh.eventTypes}
		r.sizes.perEvent.Store(chunkBytes / minFirstChunkRows) // by positions, then chunks
		before := handlerReads(ctx, t, db)
		positions, _, err := r.positions(ctx, opts, limit+1)
		if err != nil {
			t.Fatal(err)
		}
		read := handlerReads(ctx, t, db)
		n := readPage(ctx, t, r, opts)
		// The page again: its positions, as read above, then its chunks.
		chunks := handlerReads(ctx, t, db) - read - (read - before)
		if n != events/every || len(positions) != n {
			t.Fatalf("%s: a page of %d events (%d positions), want %d", what, n, len(positions), events/every)
		}
		if most := int64(3*n + 20); chunks > most {
			t.Errorf("%s: the chunks of a page of %d events spanning %d positions read %d rows and index entries, want at most %d",
				what, n, positions[n-1]-positions[0], chunks, most)
		}
	}
}

// TestAFilteredPageOfLargeEventsReadByPositionsIsWhole: read by its
// positions, a chunk stops at about chunkBytes of data; the next starts at
// the position after its last event, whatever the positions asked for.
// Events of 300 KB, every other one of the filter's stream types, and a
// position removed by hand between the read of the positions and of the
// events: every other event once, in order, on both stores.
func TestAFilteredPageOfLargeEventsReadByPositionsIsWhole(t *testing.T) {
	t.Parallel()
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			data := []byte(`"` + strings.Repeat("x", 300<<10) + `"`)
			var want []int64
			for p := int64(1); p <= 24; p++ {
				streamType := []string{"a", "b", "c"}[p%3] // c: not in the filter
				id, stream := uuid.New(), uuid.New()
				if _, err := db.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) "+
					"VALUES (?, ?, ?, 1, ?, 'T', ?, ?)", p, id[:], stream[:], streamType, data, time.Now().UTC().Add(-time.Hour)); err != nil {
					t.Fatal(err)
				}
				if streamType != "c" && p != 10 {
					want = append(want, p)
				}
			}
			// The head at the last event, as appends leave it: a page refuses an
			// event past the head as damage.
			if _, err := db.ExecContext(ctx, "UPDATE log_head SET position = (SELECT MAX(position) FROM events) WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: indexHints[name]}
			r.sizes.perEvent.Store(1) // a first chunk of the page's limit: read by positions
			opts := eventstore.ReadAllOptions{Limit: 1000, StreamTypes: []string{"a", "b"}}
			page, err := r.ReadAll(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, "DELETE FROM events WHERE position = 10"); err != nil {
				t.Fatal(err)
			}
			var got []int64
			for e, err := range page.Events {
				if err != nil {
					t.Fatal(err)
				}
				if len(e.Data) != len(data) {
					t.Fatalf("event %d: %d bytes of data, want %d", e.Position, len(e.Data), len(data))
				}
				got = append(got, e.Position)
			}
			if !slices.Equal(got, want) {
				t.Errorf("read %v, want %v", got, want)
			}
		})
	}
}

package sqlstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAStreamsVersionIsFoundWithoutReadingItsEvents: a stream's version and
// updated_at are its last event's. The queries that find them (a stream's
// read, a page of the stream list, an append's read of its streams) must
// reach that event through the (stream_id, stream_version) key, not read the
// stream's events one by one: on MariaDB, counted with the session's
// Handler_read counters, for a stream of 5,000 events.
func TestAStreamsVersionIsFoundWithoutReadingItsEvents(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := oneSession(mysqlDB(t)) // its counters are its statements'
	long := uuid.New()
	long[0] = 0 // first in the list
	const events, others = 5000, 200
	now := time.Now().UTC().Truncate(time.Microsecond)
	for first := 1; first <= events; first += 500 {
		var b strings.Builder
		var args []any
		for p := first; p < first+500; p++ {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, 'thing', 'Happened', '{}', ?)")
			id := uuid.New()
			args = append(args, p, id[:], long[:], p, now)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) VALUES "+
			b.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO streams (stream_id, stream_type, created_at) VALUES (?, 'thing', ?)", long[:], now); err != nil {
		t.Fatal(err)
	}
	// and 200 streams of one event each after it
	for i := range others {
		id, stream := uuid.New(), uuid.New()
		if _, err := db.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) "+
			"VALUES (?, ?, ?, 1, 'thing', 'Happened', '{}', ?)", events+1+i, id[:], stream[:], now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO streams (stream_id, stream_type, created_at) VALUES (?, 'thing', ?)", stream[:], now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "UPDATE log_head SET position = ? WHERE id = 1", events+others); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE events, streams"); err != nil {
		t.Fatal(err)
	}

	// reads is the session's count of index and row reads so far.
	reads := func() int64 { return handlerReads(ctx, t, db) }
	overhead := -reads() + reads() // what a read of the counters itself counts
	cost := func(what string, most int64, f func() error) {
		t.Helper()
		before := reads()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := reads() - before - overhead; n > most {
			t.Errorf("%s read %d rows and index entries with a stream of %d events in a log of %d; want at most %d", what, n, events, events+others, most)
		}
	}
	r := reader{db: db, translate: func(err error) error { return err }, checkVisible: true, sizes: new(eventSizes)}
	// The stream was written to just now: its read also counts the
	// visibleWindow positions below its last event (see visibleUpTo).
	cost("Stream", visibleWindow+20, func() error {
		st, err := r.Stream(ctx, long)
		if err == nil && st.Version != events {
			t.Errorf("version %d, want %d", st.Version, events)
		}
		return err
	})
	cost("ListStreams", 10*(eventstore.MaxLimit/10+1), func() error { // a page of 100 streams, the long one among them
		list, err := r.ListStreams(ctx, eventstore.ListStreamsOptions{Limit: 100, After: uuid.Nil})
		found := false
		for _, st := range list.Streams {
			found = found || st.ID == long && st.Version == events
		}
		if err == nil && !found {
			t.Errorf("the first page does not list the long stream at version %d", events)
		}
		return err
	})
	for name, d := range map[string]Dialect{"readStreams (locking)": {LockStreams: " FOR UPDATE"}, "readStreams": {}} {
		cost(name, 20, func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() //nolint:errcheck
			rows, err := tx.QueryContext(ctx, readStreams(d, 1), long[:])
			if err != nil {
				return err
			}
			found := map[uuid.UUID]streamState{}
			if err := scanStreams(rows, found); err != nil {
				return err
			}
			if found[long].Version != events {
				t.Errorf("%s: version %d, want %d", name, found[long].Version, events)
			}
			return rows.Close()
		})
	}
}

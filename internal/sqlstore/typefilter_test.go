package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestALogReadFilteredOnBothTypesReadsOnlyThatPairsEvents: a read of the
// log filtered on a stream type and an event type, one of them rare and the
// other common, read through every event of the common one to find a page
// of the rare one's: SQLite, which has no statistics, took the event type's
// index (100 ms for no event at 600,000), and MariaDB took the stream type's
// for a common stream type and a rare event type. (A hostile review found
// it.) Each of the read's queries now takes the index on both columns
// (EXPLAIN QUERY PLAN, on SQLite) or reads about as many rows as it
// answers (the session's Handler_read counters, on MariaDB), for a log of
// 20,000 events.
func TestALogReadFilteredOnBothTypesReadsOnlyThatPairsEvents(t *testing.T) {
	t.Parallel()
	const events, every = 20_000, 1000
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			// A guard against a hang only: writing 20,000 events took more
			// than a minute on a machine loaded fifteen times its cores.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			oneSession(db) // MariaDB's counters are the reads'
			writeTypedEvents(ctx, t, db, events, every)
			if name == "mysql" {
				if _, err := db.ExecContext(ctx, "ANALYZE TABLE events"); err != nil {
					t.Fatal(err)
				}
			}
			r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: indexHints[name]}
			if name == "sqlite" {
				r.typePairIndex = IndexedByTypePair // the SQLite dialect's
			}
			for _, tc := range []struct {
				streamTypes, eventTypes []string
				want                    int
				more                    bool
			}{
				{[]string{"rare"}, []string{"Common"}, events / every, false},
				{[]string{"order"}, []string{"Rare"}, 0, false},
				{[]string{"rare"}, []string{"Rare"}, 0, false},
				{[]string{"rare", "none"}, []string{"Common", "None"}, events / every, false},
				{[]string{"invoice"}, []string{"Rare"}, 100, true},
			} {
				what := fmt.Sprintf("stream_type=%s&type=%s", strings.Join(tc.streamTypes, ","), strings.Join(tc.eventTypes, ","))
				opts := eventstore.ReadAllOptions{StreamTypes: tc.streamTypes, EventTypes: tc.eventTypes, Limit: 100}
				read := func() error {
					page, err := r.ReadAll(ctx, opts)
					if err != nil {
						return err
					}
					n := 0
					for e, err := range page.Events {
						if err != nil {
							return err
						}
						if !contains(tc.streamTypes, e.StreamType) || !contains(tc.eventTypes, e.Type) {
							t.Errorf("%s: read an event of %s/%s", what, e.StreamType, e.Type)
						}
						n++
					}
					if n != tc.want || page.More != tc.more {
						t.Errorf("%s: %d events (more: %v), want %d (more: %v)", what, n, page.More, tc.want, tc.more)
					}
					return nil
				}
				switch name {
				case "mysql":
					before := handlerReads(ctx, t, db)
					if err := read(); err != nil {
						t.Fatal(err)
					}
					// The rows answered, twice (positions, then events),
					// an index entry past each range and the counters'
					// own read: far fewer than the common type's 10,000.
					if n, most := handlerReads(ctx, t, db)-before, int64(2*tc.want+100); n > most {
						t.Errorf("%s read %d rows and index entries in a log of %d events; want at most %d", what, n, events, most)
					}
				case "sqlite":
					if err := read(); err != nil {
						t.Fatal(err)
					}
					// A subscription's read of history is bounded by the
					// head it started at (UpTo).
					for _, upTo := range []int64{0, events} {
						opts.UpTo = upTo
						pageQ, pageArgs := r.pageQuery(eventColumns, opts, 101)
						positionsQ, positionsArgs := r.pageQuery(positionColumns, opts, 101)
						for _, q := range []struct {
							query, what string
							args        []any
						}{
							{pageQ, "the page's read", pageArgs},
							{positionsQ, "the positions' read", positionsArgs},
						} {
							if plan := sqlitePlan(ctx, t, db, q.query, q.args...); !strings.Contains(plan, "INDEX events_stream_type_event_type_position ") {
								t.Errorf("%s (up to %d), %s: plan %q, want it to search the index on (stream_type, event_type, position)", what, upTo, q.what, plan)
							}
						}
						// A chunk reads the page's positions by key.
						if plan := sqlitePlan(ctx, t, db, byPositions(eventColumns, 2), 1, 2, 2); !strings.HasPrefix(plan, "SEARCH events USING INTEGER PRIMARY KEY") {
							t.Errorf("%s (up to %d), a chunk's read: plan %q, want it to search the primary key", what, upTo, plan)
						}
					}
				}
			}
		})
	}
}

// contains reports whether names holds name.
func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// writeTypedEvents writes n events of one stream each, at positions 1 to n,
// behind the store's back: of stream type rare every every-th, the others
// of order (even positions) or invoice (odd); of event type Rare every
// tenth from 1, the others Common. No order event is Rare.
func writeTypedEvents(ctx context.Context, t testing.TB, db *sql.DB, n, every int) {
	t.Helper()
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	const batch = 500
	for first := 1; first <= n; first += batch {
		var b strings.Builder
		var args []any
		for p := first; p < first+batch && p <= n; p++ {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, 1, ?, ?, '{}', ?)")
			streamType, eventType := "invoice", "Common"
			switch {
			case p%every == 0:
				streamType = "rare"
			case p%2 == 0:
				streamType = "order"
			}
			if p%10 == 1 {
				eventType = "Rare"
			}
			id, stream := uuid.New(), uuid.New()
			args = append(args, p, id[:], stream[:], streamType, eventType, now)
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) VALUES "+
			b.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
	// The head at the last event, as appends leave it: a page refuses an
	// event past the head as damage.
	if _, err := db.ExecContext(ctx, "UPDATE log_head SET position = (SELECT MAX(position) FROM events) WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
}

// handlerReads is a MariaDB session's count of index and row reads so far.
func handlerReads(ctx context.Context, t *testing.T, db *sql.DB) int64 {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SHOW SESSION STATUS WHERE Variable_name IN "+
		"('Handler_read_first', 'Handler_read_key', 'Handler_read_last', 'Handler_read_next', 'Handler_read_prev', 'Handler_read_rnd_next')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var sum int64
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		sum += n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return sum
}

// sqlitePlan returns SQLite's plan for query, its steps' details joined.
func sqlitePlan(ctx context.Context, t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(steps, "; ")
}

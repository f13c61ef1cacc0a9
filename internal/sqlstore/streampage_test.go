package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAOneStreamLogPageReadsItsPageNotTheStream: a stream subscription
// catches up through log pages of one stream (ReadAll with StreamID). Its
// query, ordered by position, was planned by SQLite as a search of the
// stream's index and a sort of all the stream's events after the page's
// start, data included: each page read the rest of the stream, so catching
// up on a stream of large events cost its size squared (200 events of 500
// KiB: 13 s; the log: 3 s). A stream's positions rise with its versions: the
// page reads the stream's index in version order and stops at the page's
// end. On both stores: MariaDB's row and index reads, SQLite's plan.
func TestAOneStreamLogPageReadsItsPageNotTheStream(t *testing.T) {
	t.Parallel()
	const events, every, limit = 3000, 7, 10
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			oneSession(db) // MariaDB's counters are the reads'
			stream := uuid.New()
			writeOldStream(ctx, t, db, stream, events, every)
			if name == "mysql" {
				if _, err := db.ExecContext(ctx, "ANALYZE TABLE events"); err != nil {
					t.Fatal(err)
				}
			}
			r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: indexHints[name]}
			opts := eventstore.ReadAllOptions{StreamID: stream, After: 20 * every, Limit: limit}
			switch name {
			case "mysql":
				// Both ways of reading a page (pageWays); the chunks read by
				// position, not the page's span of the log, every seventh
				// event of which is the stream's.
				for _, limit := range pageWays(limit) {
					opts.Limit = limit
					got, n := readPageCountingReads(ctx, t, db, r, opts)
					if got != limit {
						t.Fatalf("read %d events, want %d", got, limit)
					}
					if most := int64(4*(limit+2) + 100); n > most {
						t.Errorf("read %d rows and index entries for a page of %d of a stream of %d events; want at most %d", n, limit, events, most)
					}
				}
			case "sqlite":
				for _, cols := range []string{eventColumns, positionColumns} {
					query, args := r.pageQuery(cols, opts, limit+1)
					if plan := sqlitePlan(ctx, t, db, query, args...); strings.Contains(plan, "TEMP B-TREE") {
						t.Errorf("a page of one stream (%s) sorts what it reads:\n%s", cols, plan)
					}
				}
			}
		})
	}
}

// writeOldStream writes n events of one stream an hour old (no read looks
// for commits on their way below them), each the every-th event of the log,
// the others each of a stream of its own.
func writeOldStream(ctx context.Context, t *testing.T, db *sql.DB, stream uuid.UUID, n, every int) {
	t.Helper()
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	const batch = 500
	for first := 1; first <= n*every; first += batch {
		var b strings.Builder
		var args []any
		for p := first; p < first+batch && p <= n*every; p++ {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, 'order', 'Placed', '{}', ?)")
			id, of, version := uuid.New(), uuid.New(), 1
			if p%every == 0 {
				of, version = stream, p/every
			}
			args = append(args, p, id[:], of[:], version, now)
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

// pageWays are the limits of the two ways a page is read, for a reader
// whose sizes readPageCountingReads sets: whole (limit, no larger than the
// first chunk), and by positions, then chunks (past the first chunk).
func pageWays(limit int) []int { return []int{limit, minFirstChunkRows + 1} }

// readPageCountingReads reads a log page with r, the way its limit asks
// (pageWays), and returns its events and the rows and index entries the
// MariaDB session read for it (handlerReads).
func readPageCountingReads(ctx context.Context, t *testing.T, db *sql.DB, r reader, opts eventstore.ReadAllOptions) (int, int64) {
	t.Helper()
	perEvent := int64(0) // small events: a page of limit is read whole
	if opts.Limit > minFirstChunkRows {
		perEvent = chunkBytes / minFirstChunkRows // by positions, then chunks
	}
	r.sizes.perEvent.Store(perEvent)
	before := handlerReads(ctx, t, db)
	page, err := r.ReadAll(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range page.Events {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n, handlerReads(ctx, t, db) - before
}

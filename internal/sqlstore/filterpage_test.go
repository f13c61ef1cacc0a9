package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// filterShapes are the filters of /events the tests of a filtered page read
// walk: none, one name of each kind, several of each, one against several,
// names that match nothing, and a name given twice. On writeTypedEvents' log
// (stream types rare, order, invoice; event types Rare, Common).
var filterShapes = []struct {
	streamTypes, eventTypes []string
}{
	{nil, nil},
	{[]string{"order"}, nil},
	{nil, []string{"Rare"}},
	{[]string{"rare"}, []string{"Common"}},
	{[]string{"order", "invoice"}, nil},
	{[]string{"order", "rare", "none"}, nil},
	{nil, []string{"Rare", "Common"}},
	{nil, []string{"Rare", "Nope"}},
	{[]string{"order"}, []string{"Rare", "Common"}},
	{[]string{"order", "invoice"}, []string{"Rare"}},
	{[]string{"order", "invoice", "rare"}, []string{"Rare", "Common"}},
	{[]string{"none", "nada"}, []string{"Nope"}},
	{[]string{"none"}, nil},
	{[]string{"order", "order"}, []string{"Rare", "Rare", "Common"}},
	// maxLogBranches pairs, and more: those stay one query.
	{[]string{"order", "invoice", "rare", "a"}, []string{"Rare", "Common", "b", "c", "d", "e", "f", "g"}},
	{[]string{"order", "invoice", "rare", "a", "b", "c"}, []string{"Rare", "Common", "d", "e", "f", "g"}},
}

// indexHints are the dialects' IndexHint.
var indexHints = map[string]string{"mysql": ForceIndex, "sqlite": IndexedBy}

// shapeName names a filter shape as its query string would.
func shapeName(streamTypes, eventTypes []string) string {
	return fmt.Sprintf("stream_type=%s&type=%s", strings.Join(streamTypes, ","), strings.Join(eventTypes, ","))
}

// tailPositions is what one query over the filter's whole tail (the read
// before the branches) answers: every matching position, in order.
func tailPositions(ctx context.Context, t *testing.T, r reader, opts eventstore.ReadAllOptions) []int64 {
	t.Helper()
	where, args := logFilter(opts)
	rows, err := r.db.QueryContext(ctx, "SELECT position FROM events WHERE "+where+" ORDER BY position", args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pagedPositions reads the log page by page, as a client catching up does,
// and returns the positions of the events read; it checks each event
// against the filter and the page's Last against its events.
// Before each page, the size of the events read lately is set to perEvent:
// 0 reads a page whole, chunkBytes/minFirstChunkRows one larger than
// minFirstChunkRows by its positions, then in chunks.
func pagedPositions(ctx context.Context, t *testing.T, r reader, opts eventstore.ReadAllOptions, perEvent int64) []int64 {
	t.Helper()
	var out []int64
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatalf("%s: no end after %d pages", shapeName(opts.StreamTypes, opts.EventTypes), pages)
		}
		r.sizes.perEvent.Store(perEvent)
		page, err := r.ReadAll(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for e, err := range page.Events {
			if err != nil {
				t.Fatal(err)
			}
			if len(opts.StreamTypes) > 0 && !contains(opts.StreamTypes, e.StreamType) || len(opts.EventTypes) > 0 && !contains(opts.EventTypes, e.Type) {
				t.Errorf("%s: read event %d of %s/%s", shapeName(opts.StreamTypes, opts.EventTypes), e.Position, e.StreamType, e.Type)
			}
			out = append(out, e.Position)
			n++
		}
		if n > opts.Limit {
			t.Fatalf("%s: a page of %d events, limit %d", shapeName(opts.StreamTypes, opts.EventTypes), n, opts.Limit)
		}
		if n > 0 && out[len(out)-1] != page.Last {
			t.Fatalf("%s: page's Last %d, its last event %d", shapeName(opts.StreamTypes, opts.EventTypes), page.Last, out[len(out)-1])
		}
		if !page.More {
			return out
		}
		opts.After = page.Last
	}
}

// TestAFilteredLogReadReturnsTheEventsOneQueryOverTheTailDid: a read of the
// log filtered on several names is one branch per name (or pair of names),
// merged; paged through from the start and from deep in the log, with and
// without a subscription's upper bound (UpTo), in pages small enough to be
// read whole and large enough to be read by positions and chunks, it
// returns the same events in the same order as one query over the filter's
// whole tail, on both stores. (The stores, and the shapes, run in
// parallel: on SQLite under -race a page of 32 branches is slow, and pages
// of 23 over the whole log twice took the test past 30 s. Pages of 97, the
// most a page read whole may have, still cross a page's boundary 20 times
// in the shapes that match the log, and an upper bound mid-log, not near
// its end, tests the bound as well.)
func TestAFilteredLogReadReturnsTheEventsOneQueryOverTheTailDid(t *testing.T) {
	t.Parallel()
	const events = 2000
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			t.Cleanup(cancel)
			writeTypedEvents(ctx, t, db, events, 100)
			newReader := func() reader {
				r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: indexHints[name]}
				if name == "sqlite" {
					r.typePairIndex = IndexedByTypePair
				}
				return r
			}
			for _, sh := range filterShapes {
				t.Run(shapeName(sh.streamTypes, sh.eventTypes), func(t *testing.T) {
					t.Parallel()
					r := newReader() // its own sizes: each page sets them
					for _, b := range []struct{ after, upTo int64 }{{0, 0}, {1200, 0}, {0, 717}, {1000, 1100}} {
						for _, way := range []struct {
							limit    int
							perEvent int64
						}{{97, 0}, {250, chunkBytes / minFirstChunkRows}} {
							opts := eventstore.ReadAllOptions{After: b.after, UpTo: b.upTo, Limit: way.limit, StreamTypes: sh.streamTypes, EventTypes: sh.eventTypes}
							want, got := tailPositions(ctx, t, r, opts), pagedPositions(ctx, t, r, opts, way.perEvent)
							if !slices.Equal(got, want) {
								t.Errorf("%s after %d up to %d, limit %d: read %d events %v, want %d %v",
									shapeName(sh.streamTypes, sh.eventTypes), b.after, b.upTo, way.limit, len(got), head(got), len(want), head(want))
							}
						}
					}
				})
			}
			t.Run("one stream", func(t *testing.T) {
				t.Parallel()
				r := newReader()
				var oneStream uuid.UUID // the stream of position 7
				if err := db.QueryRowContext(ctx, "SELECT stream_id FROM events WHERE position = 7").Scan(&oneStream); err != nil {
					t.Fatal(err)
				}
				// One stream's events, filtered on several names too.
				opts := eventstore.ReadAllOptions{Limit: 10, StreamID: oneStream, StreamTypes: []string{"order", "invoice"}, EventTypes: []string{"Rare", "Common"}}
				if want, got := tailPositions(ctx, t, r, opts), pagedPositions(ctx, t, r, opts, 0); !slices.Equal(got, want) || len(got) != 1 {
					t.Errorf("one stream's events: read %v, want %v (one event)", got, want)
				}
			})
		})
	}
}

// head returns the first positions of a list, for a failure message.
func head(p []int64) []int64 {
	return p[:min(len(p), 10)]
}

// TestAFilteredLogPageReadsAboutItsPageNotTheTail: a read of the log
// filtered on several names (several stream types, several event types, or
// one against several) read every match after the page's start and sorted
// them (SQLite: a temp B-tree; MariaDB: a filesort) to answer the first
// page: catching up over N matches in pages cost N²/page. (A review found
// it.) Each of the page's queries now reads about a page a name: on
// MariaDB the session's Handler_read counters for a page of 10 from the
// start of a log of 20,000 events stay within a few pages a branch (the
// 400 events of the stream types rare and none were read and sorted); on
// SQLite each branch searches an index in position order and stops at
// its LIMIT, with no temp B-tree over its matches.
func TestAFilteredLogPageReadsAboutItsPageNotTheTail(t *testing.T) {
	t.Parallel()
	const events, limit = 20_000, 10
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			oneSession(db)                           // MariaDB's counters are the reads'
			writeTypedEvents(ctx, t, db, events, 50) // 400 events of stream type rare
			if name == "mysql" {
				if _, err := db.ExecContext(ctx, "ANALYZE TABLE events"); err != nil {
					t.Fatal(err)
				}
			}
			shapes := append(filterShapes, struct{ streamTypes, eventTypes []string }{[]string{"rare", "none"}, nil})
			for _, sh := range shapes {
				branches := max(len(distinct(sh.streamTypes)), 1) * max(len(distinct(sh.eventTypes)), 1)
				if branches < 2 || branches > maxLogBranches {
					continue // one name (or pair, or none) reads its index in order; past the cap, one query
				}
				what := shapeName(sh.streamTypes, sh.eventTypes)
				for _, upTo := range []int64{0, events} {
					opts := eventstore.ReadAllOptions{UpTo: upTo, StreamTypes: sh.streamTypes, EventTypes: sh.eventTypes}
					r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes), indexHint: indexHints[name]}
					switch name {
					case "mysql":
						// Both ways of reading a page: whole (a page no
						// larger than the first chunk), and by positions,
						// then chunks.
						for _, limit := range pageWays(limit) {
							opts.Limit = limit
							_, n := readPageCountingReads(ctx, t, db, r, opts)
							// Each branch reads at most a page and the row
							// after it, a few times over (its index, the
							// merge's temporary table, the sort, the
							// chunks), and the counters' own read.
							if most := int64(4*branches*(limit+2) + 100); n > most {
								t.Errorf("%s (up to %d): read %d rows and index entries for a page of %d in a log of %d events; want at most %d",
									what, upTo, n, limit, events, most)
							}
						}
					case "sqlite":
						r.typePairIndex = IndexedByTypePair
						for _, cols := range []string{eventColumns, positionColumns} {
							query, args := r.pageQuery(cols, opts, limit+1)
							plan := sqlitePlan(ctx, t, db, query, args...)
							// Each branch searches an index and stops at
							// its LIMIT, unsorted; what is sorted is at
							// most a page a branch (a step after "SCAN bN").
							steps := strings.Split(plan, "; ")
							searches := 0
							for i, step := range steps {
								if strings.HasPrefix(step, "SCAN events") ||
									strings.HasPrefix(step, "SEARCH events") && i+1 < len(steps) && strings.Contains(steps[i+1], "TEMP B-TREE") {
									searches = -1
									break
								}
								// (A covering index where a branch reads
								// positions only, its page's rows then
								// read by their key.)
								if strings.HasPrefix(step, "SEARCH events USING INDEX") || strings.HasPrefix(step, "SEARCH events USING COVERING INDEX") {
									searches++
								}
							}
							if searches != branches {
								t.Errorf("%s (up to %d), reading %s: plan %q, want %d branches, each searching an index in position order, unsorted", what, upTo, cols, plan, branches)
							}
						}
					}
				}
			}
		})
	}
}

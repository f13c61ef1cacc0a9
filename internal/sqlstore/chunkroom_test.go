package sqlstore

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAChunkOfAFewRowsHoldsRoomForAFew: the live feed's tail reads the log
// after its head with a page's limit (500) on every commit, and mostly finds
// an event or two. A chunk that made room for its whole limit at its first
// row made 75–150 KB of garbage a read: at 500 appends/s with a subscriber
// open, four fifths of all the server allocated, and a collection every
// 40 ms. Under load a commit is a group of 8 to 25 appends, and the tail
// finds those: room for the limit again. A chunk of a few rows holds room for
// a few, one of up to an eighth of its limit for at most that eighth (or
// twice its rows), and all of them in order. On both databases.
func TestAChunkOfAFewRowsHoldsRoomForAFew(t *testing.T) {
	t.Parallel()
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const rows = 300
			writeStream(ctx, t, db, uuid.New(), rows)
			r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes)}
			const query = "SELECT " + eventColumns + " FROM events WHERE position > ? ORDER BY position LIMIT ?"
			for _, tc := range []struct {
				after, limit, want int
			}{{rows - 1, 501, 1}, {rows - 2, 1001, 2}, {rows - 9, 501, 9}, {rows - 24, 501, 24}, {rows - 100, 1001, 100}, {0, 1001, rows}, {0, 100, 100}} {
				out, _, _, err := r.readChunk(ctx, 0, query, tc.after, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(out) != tc.want {
					t.Fatalf("after %d, limit %d: %d rows, want %d", tc.after, tc.limit, len(out), tc.want)
				}
				for i, e := range out {
					if e.Position != int64(tc.after+i+1) {
						t.Fatalf("after %d, limit %d: row %d at position %d, want %d", tc.after, tc.limit, i, e.Position, tc.after+i+1)
					}
				}
				most := tc.limit // room for the whole limit, for a chunk of many rows
				if tc.want <= tc.limit/8 {
					most = max(tc.limit/8, 2*tc.want)
				}
				if tc.want <= firstChunkRoom {
					most = firstChunkRoom
				}
				if cap(out) > most {
					t.Errorf("after %d, limit %d: %d rows in room for %d (%d KB); want room for at most %d",
						tc.after, tc.limit, len(out), cap(out), cap(out)*int(unsafe.Sizeof(out[0]))>>10, most)
				}
			}
		})
	}
}

// bothDBs returns a migrated database of each kind, the test's own: MySQL's,
// and SQLite's opened as the embedded store opens its own.
func bothDBs(t testing.TB) map[string]*sql.DB {
	t.Helper()
	sqlite, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_timezone=UTC")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqlite.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := migrations.ApplySQLite(ctx, sqlite, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return map[string]*sql.DB{"mysql": mysqlDB(t), "sqlite": sqlite}
}

// mysqlDB returns a migrated MySQL database of the test's own, read as the
// store reads it (times in UTC, values interpolated).
func mysqlDB(t testing.TB) *sql.DB {
	t.Helper()
	return mysqltest.NewMigratedDB(t, func(cfg *mysql.Config) {
		cfg.ParseTime, cfg.Loc, cfg.InterpolateParams = true, time.UTC, true
	})
}

// oneSession holds db to one session, so that MariaDB's session counters
// (Handler_read_*, Created_tmp_disk_tables) count db's statements; it
// returns db.
func oneSession(db *sql.DB) *sql.DB {
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db
}

// writeStream writes a stream of n small events, at positions 1 to n, its
// row, and the log's head at n, behind the store's back.
func writeStream(ctx context.Context, t *testing.T, db *sql.DB, stream uuid.UUID, n int) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for v := 1; v <= n; v++ {
		id := uuid.New()
		if _, err := db.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) "+
			"VALUES (?, ?, ?, ?, 'thing', 'Happened', '{}', ?)", v, id[:], stream[:], v, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO streams (stream_id, stream_type, created_at) VALUES (?, 'thing', ?)", stream[:], now); err != nil {
		t.Fatal(err)
	}
	// The log's head counts them, as an append's would: a read of events
	// past the head is the damage of a head behind its events.
	if _, err := db.ExecContext(ctx, "UPDATE log_head SET position = ? WHERE id = 1", n); err != nil {
		t.Fatal(err)
	}
}

// TestAShortStreamsReadHoldsRoomForItsEventsNotAChunksLimit: a stream is
// read in chunks whose LIMIT is sized for a megabyte of events like those
// read lately (1,000 small ones), but a stream of 20 events is 20 rows, known
// before its read: room for the LIMIT was 150 KB a read of most streams. On
// both databases, forward and backward.
func TestAShortStreamsReadHoldsRoomForItsEventsNotAChunksLimit(t *testing.T) {
	// Not parallel: it counts the bytes the process allocates.
	for name, db := range bothDBs(t) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			stream := uuid.New()
			const events = 20
			writeStream(ctx, t, db, stream, events)
			r := reader{db: db, translate: func(err error) error { return err }, sizes: new(eventSizes)}
			r.sizes.saw(maxChunkRows, maxChunkRows*60) // small events read lately: chunks of maxChunkRows
			for dirName, dir := range map[string]eventstore.Direction{"forward": eventstore.Forward, "backward": eventstore.Backward} {
				read := func() {
					page, err := r.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Direction: dir})
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
					if n != events {
						t.Fatalf("%s: read %d events, want %d", dirName, n, events)
					}
				}
				read() // warm
				const reads = 20
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for range reads {
					read()
				}
				runtime.ReadMemStats(&after)
				perRead := int(after.TotalAlloc-before.TotalAlloc) / reads
				// The read itself takes about 15 KB; room for the LIMIT took
				// 150 KB more.
				if most := 40 << 10; perRead > most {
					t.Errorf("%s: a read of %d events allocated %d KB; want at most %d KB", dirName, events, perRead>>10, most>>10)
				}
			}
		})
	}
}

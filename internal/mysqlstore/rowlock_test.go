package mysqlstore_test

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestAnAppendWaitingOnARowLockPastItsDeadlineWritesNothing (found by a
// third review, when refuse_locks covered metadata locks only): a
// reporting session under REPEATABLE READ that reads the log's tail with a locking read (FOR SHARE,
// or the read half of INSERT … SELECT) holds a next-key lock on the gap
// after the last position; the append's INSERT then waits for it (up to
// innodb_lock_wait_timeout), a wait the driver closing the connection at the
// deadline does not end, and the COMMIT sent with it runs once the reporter
// commits: after the caller was told the append failed.
func TestAnAppendWaitingOnARowLockPastItsDeadlineWritesNothing(t *testing.T) {
	bothPaths(t, "", func(ctx context.Context, t *testing.T, s *mysqlstore.Store, _ *metrics.Metrics, db *sql.DB, x uuid.UUID) {
		other, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback() //nolint:errcheck
		var n int
		if err := other.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE position >= 1 LOCK IN SHARE MODE").Scan(&n); err != nil {
			t.Fatal(err)
		}
		appendPastDeadlineWritesNothing(ctx, t, s, db, x, func() {
			if err := other.Commit(); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// TestAnAppendThatReadsFirstLocksOneEventOfALongStream: a stream's version is
// its last event's, and a group that reads first finds it with a locking
// read (see sqlstore.readStreams). That read must stop at the stream's last
// event: a read of the whole stream would lock, and take time, in proportion
// to its length, in every such append. With a hook before COMMIT (groups
// then read first), another session counts the rows the append's
// transaction locked: a handful, for a stream of 3,000 events.
func TestAnAppendThatReadsFirstLocksOneEventOfALongStream(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	x := uuid.New()
	long := eventstore.AppendRequest{StreamID: x, StreamType: "thing", Expected: eventstore.NoStream}
	for range 3000 {
		long.Events = append(long.Events, eventstore.NewEvent{Type: "Happened", Data: []byte(`{}`)})
	}
	if _, err := s.Append(ctx, long); err != nil {
		t.Fatal(err)
	}
	var locked int64 = -1
	s.SetBeforeCommit(func() {
		if err := db.QueryRowContext(ctx, "SELECT MAX(trx_rows_locked) FROM information_schema.innodb_trx").Scan(&locked); err != nil {
			t.Error(err)
		}
	})
	res, err := appendOne(ctx, s, x, eventstore.Exactly(3000))
	if err != nil || res.Version != 3001 {
		t.Fatalf("append at version 3000: %+v, %v; want version 3001", res, err)
	}
	if locked < 0 || locked > 10 {
		t.Fatalf("the append locked %d rows; want a handful (log_head, the stream's row, its last event, the new event)", locked)
	}
	t.Logf("the append locked %d rows", locked)
}

// TestAReportLockingOneStreamsEventsDoesNotStallAppendsToOthers: a
// reporting session under REPEATABLE READ reads one stream's events with a
// locking read (FOR SHARE, or the read half of INSERT … SELECT) and keeps
// its transaction open. Appends to that stream cannot go in until it ends
// (their INSERT is refused, and the writer tries again while they wait);
// appends to other streams must not wait for it. An append whose read of
// its stream's last event waits for the report's lock holds the log's lock
// all the while, and the server goes on waiting after the caller's deadline
// closed the connection: every append, to any stream, then waits for the
// report.
func TestAReportLockingOneStreamsEventsDoesNotStallAppendsToOthers(t *testing.T) {
	bothPaths(t, "", func(ctx context.Context, t *testing.T, s *mysqlstore.Store, _ *metrics.Metrics, db *sql.DB, x uuid.UUID) {
		// y sorts after x: the report's gap lock (below the first key
		// after x's) is then not where y's next version goes.
		y := uuid.New()
		for bytes.Compare(y[:], x[:]) <= 0 {
			y = uuid.New()
		}
		appendVersions(ctx, t, s, y, 2)
		report, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		defer report.Rollback() //nolint:errcheck
		var n int
		if err := report.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE stream_id = ? LOCK IN SHARE MODE", x[:]).Scan(&n); err != nil || n != 2 {
			t.Fatalf("the report's read: %d events, %v; want 2", n, err)
		}
		start := time.Now()
		locked := make(chan error, 1)
		go func() {
			short, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := appendOne(short, s, x, eventstore.Exactly(2))
			locked <- err
		}()
		time.Sleep(200 * time.Millisecond) // a chance for the locked stream's append to go first
		// 20 s: stalled behind the report, it would wait until its
		// deadline (the report ends only once it returns); 3 s was within
		// a loaded machine's noise.
		other, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		res, err := appendOne(other, s, y, eventstore.Exactly(2))
		took := time.Since(start)
		xErr := <-locked
		if cerr := report.Commit(); cerr != nil { // held until the other append returned
			t.Fatal(cerr)
		}
		if err != nil || res.Version != 3 {
			t.Fatalf("an append to another stream while a report held one stream's events locked: %+v, %v, after %v; "+
				"want version 3 within its deadline (the locked stream's append: %v)", res, err, took.Round(time.Millisecond), xErr)
		}
		t.Logf("the locked stream's append: %v; the other stream's append took %v", xErr, took.Round(time.Millisecond))
	})
}

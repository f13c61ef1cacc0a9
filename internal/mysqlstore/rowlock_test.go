package mysqlstore_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/uuid"

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

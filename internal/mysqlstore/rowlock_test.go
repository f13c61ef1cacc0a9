package mysqlstore_test

import (
	"database/sql"
	"testing"

	"github.com/google/uuid"
)

// TestAnAppendWaitingOnARowLockPastItsDeadlineWritesNothing (found by a
// third review, when refuse_locks covered metadata locks only): a
// reporting session under
// REPEATABLE READ that reads the log's tail with a locking read (FOR SHARE,
// or the read half of INSERT … SELECT) holds a next-key lock on the gap
// after the last position; the append's INSERT then waits for it (up to
// innodb_lock_wait_timeout), a wait the driver closing the connection at the
// deadline does not end, and the COMMIT sent with it runs once the reporter
// commits: after the caller was told the append failed.
func TestAnAppendWaitingOnARowLockPastItsDeadlineWritesNothing(t *testing.T) {
	for _, readFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "one round trip", true: "read first"}[readFirst], func(t *testing.T) {
			ctx, dsn := guardedTest(t)
			s, _ := openCounted(t, dsn)
			x := uuid.New()
			appendVersions(ctx, t, s, x, 2)
			if readFirst {
				s.SetBeforeCommit(func() {})
			}
			db := otherProcessDB(t, dsn)
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
}

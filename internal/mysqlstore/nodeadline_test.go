package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAnAppendWithoutADeadlineStopsRetryingARefusedLock: a Go caller of the
// store whose context has no deadline (not an HTTP request) appends to a
// stream whose events a report holds locked. The writer refuses the lock
// rather than wait for it, and tries again while its callers wait; for a
// caller without a deadline it tried again for ever, the append never
// returning while the report lasted. It must fail as unavailable within
// the writer's bound on a transaction (30 s).
func TestAnAppendWithoutADeadlineStopsRetryingARefusedLock(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	x := uuid.New()
	appendVersions(ctx, t, s, x, 2)
	report, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		t.Fatal(err)
	}
	defer report.Rollback() //nolint:errcheck // the test's end
	var n int
	if err := report.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE stream_id = ? FOR UPDATE", x[:]).Scan(&n); err != nil || n != 2 {
		t.Fatalf("the report's read: %d events, %v; want 2", n, err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := appendOne(context.Background(), s, x, eventstore.Exactly(2))
		done <- err
	}()
	select {
	case err := <-done:
		took := time.Since(start)
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("an append without a deadline to a stream a report holds locked: expected an error wrapping ErrUnavailable, got %v after %v", err, took)
		}
		t.Logf("it failed after %v: %v", took.Round(time.Millisecond), err)
	case <-time.After(45 * time.Second):
		t.Errorf("an append without a deadline to a stream a report holds locked had not returned after 45 s; want it to fail within the writer's 30 s")
		report.Rollback() //nolint:errcheck // let it go in, and the test end
		<-done
	}
}

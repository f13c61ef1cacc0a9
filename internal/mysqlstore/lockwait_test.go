package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestATimedOutGroupLeavesNoSessionWaitingOnALock: another process holds
// the log's lock (a long transaction of its own), and an append with a
// one-second deadline waits for it in its read phase. At the deadline the
// driver closes the connection, but the server's session went on waiting
// for the row lock for up to innodb_lock_wait_timeout (50 s by default),
// one such session per timed-out group. The group's wait must end by its
// callers' deadline (rounded up to a whole second): within a few seconds of
// the append's failure no session of the store waits on a lock.
func TestATimedOutGroupLeavesNoSessionWaitingOnALock(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	var rowWait int
	if err := s.WritesPool().QueryRowContext(ctx, "SELECT @@innodb_lock_wait_timeout").Scan(&rowWait); err != nil || rowWait < 10 {
		t.Skipf("the server's innodb_lock_wait_timeout is %d (%v): a wait past the deadline would not show", rowWait, err)
	}
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	defer holder.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // the test's end
	if err := holder.QueryRowContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE").Scan(new(int64)); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	_, err = appendOne(short, s, uuid.New(), eventstore.NoStream)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("an append while another process held the log's lock past its deadline: %v; want it to fail as unavailable", err)
	}
	failed := time.Since(start)
	var waiting int
	for {
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX t "+
			"JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "+
			"WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()").Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			t.Logf("the append failed after %v; no session waited on a lock %v after", failed.Round(time.Millisecond), (time.Since(start) - failed).Round(time.Millisecond))
			return
		}
		if time.Since(start) > failed+3*time.Second {
			t.Fatalf("%d sessions of the store still wait on a lock 3 s after the append failed (at its 1 s deadline), want none; the database's connections:\n%s",
				waiting, connections(db))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

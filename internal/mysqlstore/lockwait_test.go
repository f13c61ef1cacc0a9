package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestATimedOutGroupLeavesNoSessionWaitingOnALock: another process holds
// the log's lock (a long transaction of its own), and an append with a
// one-second deadline waits for it in its read phase. At the deadline the
// driver closes the connection, but the server's session went on waiting
// for the row lock for up to innodb_lock_wait_timeout (50 s by default),
// one such session per timed-out group. The group's wait must end by its
// callers' deadline (in whole seconds, at least 1): within a few seconds of
// the append's failure no session of the store waits on a lock.
func TestATimedOutGroupLeavesNoSessionWaitingOnALock(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	holdRowLock(ctx, t, s, db, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	_, err := appendOne(short, s, uuid.New(), eventstore.NoStream)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("an append while another process held the log's lock past its deadline: %v; want it to fail as unavailable", err)
	}
	noSessionWaitsSoonAfter(ctx, t, db, start, time.Since(start), "the append")
}

// TestATimedOutFenceLeavesNoSessionWaitingOnALock: with the binary log off,
// a read waits for a fence, an upsert of durability_fence's row. Another
// session holds that row's lock (a long transaction of an operator's, or a
// fence of another process stuck behind it), and a read with a one-second
// deadline waits for it. At the deadline the driver closes the connection,
// but the server's session went on waiting for the row lock for up to
// innodb_lock_wait_timeout (50 s by default), one such session per timed-out
// fence. The fence's wait must end by its caller's deadline (in whole
// seconds, at least 1): within a few seconds of its failure no session of the
// store waits on a lock. And a fence with time to wait waits out a brief
// lock, on a session whose lock waits are then as before. On MariaDB the
// bound goes with the fence's statement; MySQL's way, a session whose waits
// are set and put back, runs here on MariaDB too.
func TestATimedOutFenceLeavesNoSessionWaitingOnALock(t *testing.T) {
	t.Run("in the fence's statement", func(t *testing.T) { timedOutFenceLeavesNoSessionWaiting(t, false) })
	t.Run("on a session of its own, as on MySQL", func(t *testing.T) { timedOutFenceLeavesNoSessionWaiting(t, true) })
}

// fenceTest starts a test of a fence: a store of its own database, its
// fence bounded in the statement (MariaDB's way; skipped elsewhere) or on
// a session of its own (asMySQL), and a pool of another process on the
// database. It is skipped where the binary log is on (no fence is written).
func fenceTest(t *testing.T, asMySQL bool) (context.Context, *mysqlstore.Store, *sql.DB) {
	t.Helper()
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	if asMySQL {
		s.FenceAsOnMySQL()
	} else if !s.MariaDB() {
		t.Skip("not MariaDB: MySQL has no SET STATEMENT")
	}
	if !s.Fences() {
		t.Skip("the binary log is on: no fence is written")
	}
	return ctx, s, otherProcessDB(t, dsn)
}

func timedOutFenceLeavesNoSessionWaiting(t *testing.T, asMySQL bool) {
	ctx, s, db := fenceTest(t, asMySQL)
	holder, rowWait := holdRowLock(ctx, t, s, db, "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Tail().WaitDurable(short, 1); err == nil {
		t.Fatal("WaitDurable returned success while another session held the fence's row past its deadline")
	}
	noSessionWaitsSoonAfter(ctx, t, db, start, time.Since(start), "the fence")

	// With time to wait, a brief lock is waited out, and the session's
	// lock waits are its own again after.
	release := time.AfterFunc(300*time.Millisecond, func() { holder.ExecContext(context.Background(), "ROLLBACK") }) //nolint:errcheck // seen by the fence
	defer release.Stop()
	if err := holder.QueryRowContext(ctx, "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE").Scan(new(int64)); err != nil {
		t.Fatal(err)
	}
	brief, cancel := context.WithTimeout(ctx, 10*time.Second) // a bound under the session's own
	defer cancel()
	if err := s.Tail().WaitDurable(brief, 1); err != nil {
		t.Fatalf("WaitDurable with another session holding the fence's row for 300 ms: %v; want it waited out", err)
	}
	waits, err := s.PrimaryRowLockWaits(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range waits {
		if n != rowWait {
			t.Errorf("after a fence, the sessions of the fence's pool wait %v s for a row lock, want each the DSN's or server's %d s", waits, rowWait)
			break
		}
	}
}

// noSessionWaitsSoonAfter fails unless, within 20 s of what failed after
// failed (from start), no session on db's database waits on a lock: a
// session left waiting waits out innodb_lock_wait_timeout (50 s), which 20
// s tells apart whatever the machine's load (3 s did not, under CI).
//
// InnoDB answers INNODB_TRX from a copy it refreshes only once no one has
// read it for 100 ms: polled more often, it goes on showing a wait that has
// ended. A session whose wait ended by its own timeout, with the answer back
// before the driver cut it at the deadline, lives on idle in its pool (as a
// fence's does, sent in one statement), and the stale copy still said it
// waited: only a session running a statement can wait on a lock, and the
// poll leaves the copy time to be refreshed.
func noSessionWaitsSoonAfter(ctx context.Context, t *testing.T, db *sql.DB, start time.Time, failed time.Duration, what string) {
	t.Helper()
	var waiting int
	for {
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX t "+
			"JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "+
			"WHERE t.trx_state = 'LOCK WAIT' AND p.COMMAND <> 'Sleep' AND p.DB = DATABASE()").Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			t.Logf("%s failed after %v; no session waited on a lock %v after", what, failed.Round(time.Millisecond), (time.Since(start) - failed).Round(time.Millisecond))
			return
		}
		if time.Since(start) > failed+20*time.Second {
			t.Fatalf("%d sessions of the store still wait on a lock 20 s after %s failed (at its deadline), want none; the database's connections:\n%s",
				waiting, what, connections(db))
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// holdRowLock locks the row that lock (a SELECT … FOR UPDATE) reads, in a
// transaction of db's that the test's end rolls back, as another process
// would, and returns the transaction's connection and how long s's sessions
// wait for a row lock, in seconds.
// The test is skipped if that is less than 10 s: a wait past the deadline
// would not show.
func holdRowLock(ctx context.Context, t *testing.T, s *mysqlstore.Store, db *sql.DB, lock string) (*sql.Conn, int) {
	t.Helper()
	var rowWait int
	if err := s.WritesPool().QueryRowContext(ctx, "SELECT @@innodb_lock_wait_timeout").Scan(&rowWait); err != nil || rowWait < 10 {
		t.Skipf("the server's innodb_lock_wait_timeout is %d (%v): a wait past the deadline would not show", rowWait, err)
	}
	return lockRow(ctx, t, db, lock), rowWait
}

// lockRow locks the row that lock (a SELECT … FOR UPDATE of one integer)
// reads, in a transaction on a connection of db's own that the test's end
// rolls back, as another process would, and returns the connection.
func lockRow(ctx context.Context, t *testing.T, db *sql.DB, lock string) *sql.Conn {
	t.Helper()
	holder, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		holder.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // the test's end
		holder.Close()
	})
	lockRowAgain(ctx, t, holder, lock)
	return holder
}

// lockRowAgain begins a transaction on holder, a connection of lockRow's
// whose last one ended, and locks the row that lock reads again.
func lockRowAgain(ctx context.Context, t *testing.T, holder *sql.Conn, lock string) {
	t.Helper()
	if _, err := holder.ExecContext(ctx, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	if err := holder.QueryRowContext(ctx, lock).Scan(new(int64)); err != nil {
		t.Fatal(err)
	}
}

// TestAFenceWithoutADeadlineEndsWithinAFewSeconds: with the binary log off,
// the live feed's tailer waits for a fence before it hands out what it read,
// and its context never ends. Another session holds the fence's row (an
// operator's transaction, another process's fence stuck behind one): the
// fence waited the server's innodb_lock_wait_timeout (50 s by default), the
// live feed stalled all that time and a session of the store waited on the
// lock. It must fail within a few seconds, an error the feed retries, and
// leave no session waiting. Both ways of bounding the fence, as above.
func TestAFenceWithoutADeadlineEndsWithinAFewSeconds(t *testing.T) {
	t.Run("in the fence's statement", func(t *testing.T) { fenceWithoutDeadlineEnds(t, false) })
	t.Run("on a session of its own, as on MySQL", func(t *testing.T) { fenceWithoutDeadlineEnds(t, true) })
}

func fenceWithoutDeadlineEnds(t *testing.T, asMySQL bool) {
	ctx, s, db := fenceTest(t, asMySQL)
	holder, _ := holdRowLock(ctx, t, s, db, "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
	// Its own bound is fenceTimeout (3 s); without one it waits for the
	// row for innodb_lock_wait_timeout (50 s). 30 s tells them apart
	// whatever the machine's load.
	const bound = 30 * time.Second
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.Tail().WaitDurable(context.Background(), 1) }()
	select {
	case err := <-done:
		took := time.Since(start)
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("WaitDurable without a deadline while another session held the fence's row: %v after %v; want an error wrapping ErrUnavailable", err, took)
		}
		noSessionWaitsSoonAfter(ctx, t, db, start, took, "the fence")
	case <-time.After(bound):
		holder.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // let the fence go, and the test end
		err := <-done
		t.Fatalf("WaitDurable without a deadline while another session held the fence's row had not returned after %v (it returned %v after %v once the row was let go); "+
			"want it to fail within a few seconds", bound, err, time.Since(start).Round(time.Millisecond))
	}
}

// TestAFenceWhoseSessionIsKilledIsWrittenOnAnother: with the binary log
// off, a read of a fresh position waits for a fence. Its session is killed
// while it waits for the fence's row (an operator's KILL, a tool that kills
// sessions waiting on locks), and the row is then freed. The fence commits
// nothing a second one could not: yet the wait failed at once, a 503 for a
// read, the live feed's poll lost, with most of its time left and the
// database there. It must write the fence again on another session, within
// the caller's time, and return.
func TestAFenceWhoseSessionIsKilledIsWrittenOnAnother(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	if !s.Fences() {
		t.Skip("the binary log is on: no fence is written")
	}
	db := otherProcessDB(t, dsn)
	holder, _ := holdRowLock(ctx, t, s, db, "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
	var holderID int64
	if err := holder.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&holderID); err != nil {
		t.Fatal(err)
	}
	killed := killWhenWaiting(ctx, db, holder, holderID, "info LIKE '%INTO durability_fence%'")
	wait, cancel := context.WithTimeout(ctx, 30*time.Second) // a safety bound: the kill ends the wait
	defer cancel()
	err := s.Tail().WaitDurable(wait, 1)
	if _, ok := <-killed; !ok {
		t.Fatalf("no fence waited for the fence's row (WaitDurable: %v)", err)
	}
	if err != nil {
		t.Errorf("WaitDurable, its fence's session killed while it waited for a lock that was then freed: %v; want the fence written on another session", err)
	}
}

// TestAnAppendWhoseReadsLoseTheirSessionIsTriedAgainOnAnother: an append
// waits in its read phase for the log's lock, which another process holds.
// Its session is killed while it waits (an operator's KILL, a tool that
// kills sessions waiting on locks, a proxy that cuts one), and the lock is
// then freed. The read phase writes nothing and sends no COMMIT: yet the
// append failed at once as unavailable, with most of its time left and the
// database there. It must begin again on another session, within its
// callers' time, and be written.
func TestAnAppendWhoseReadsLoseTheirSessionIsTriedAgainOnAnother(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	holder, _ := holdRowLock(ctx, t, s, db, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	var holderID int64
	if err := holder.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&holderID); err != nil {
		t.Fatal(err)
	}
	killed := killWhenWaiting(ctx, db, holder, holderID, "info LIKE '%FROM log_head%FOR UPDATE' AND info NOT LIKE '%NOWAIT%'")
	wait, cancel := context.WithTimeout(ctx, 30*time.Second) // a safety bound: the kill ends the wait
	defer cancel()
	stream := uuid.New()
	_, err := appendOne(wait, s, stream, eventstore.NoStream)
	if _, ok := <-killed; !ok {
		t.Fatalf("no append waited for the log's lock in its reads (append: %v)", err)
	}
	if err != nil {
		t.Fatalf("an append whose reads' session was killed while it waited for a lock that was then freed: %v; want it begun again on another session and written", err)
	}
	got, err := s.Stream(ctx, stream)
	if err != nil || got.Version != 1 {
		t.Errorf("the stream after the append: %+v, %v; want version 1", got, err)
	}
}

// killWhenWaiting kills, once within 5 s, the session other than the
// holder's, on db's database, whose statement matches where (a condition
// on processlist's columns), then rolls the holder back, freeing what it
// held; the channel gives the session killed, or closes with none. Only
// db's database: the server is shared, and another test's session may run
// the same statement.
func killWhenWaiting(ctx context.Context, db *sql.DB, holder *sql.Conn, holderID int64, where string, args ...any) <-chan int64 {
	killed := make(chan int64, 1)
	go func() {
		defer close(killed)
		// 30 s, a safety bound: on a loaded machine the session may take
		// seconds to show (5 s was not always enough).
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			var id int64
			err := db.QueryRowContext(ctx, "SELECT id FROM information_schema.processlist WHERE id <> ? AND id <> CONNECTION_ID() AND db = DATABASE() AND "+where,
				append([]any{holderID}, args...)...).Scan(&id)
			if err != nil {
				continue
			}
			db.ExecContext(ctx, "KILL CONNECTION ?", id) //nolint:errcheck // seen by the caller: its call's answer
			holder.ExecContext(ctx, "ROLLBACK")          //nolint:errcheck // what it held is free
			killed <- id
			return
		}
	}()
	return killed
}

// TestAnAppendWhoseTimeEndsWaitingForAHeldLockSaysALockWasNotFree: another
// session holds the log's lock past an append's deadline (1.5 s, not a whole
// number of seconds). The group's read waited for it a whole second past
// the deadline (rounded up), so the deadline, not the server's lock wait,
// ended it, and the caller was told the database did not answer: an
// operator looks for a stalled server or network, not for the lock holder.
// The wait must end before the deadline, and the caller be told a lock was
// not free.
func TestAnAppendWhoseTimeEndsWaitingForAHeldLockSaysALockWasNotFree(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	holdRowLock(ctx, t, s, db, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	_, err := appendOne(short, s, uuid.New(), eventstore.NoStream)
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "lock") || strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("an append while another session held the log's lock past its deadline: %v; want it unavailable, told a lock was not free (not that the database did not answer)", err)
	}
}

package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestTheLockHolderNamedIsNotATransactionWhoseWaitForTheLockTimedOut:
// one session holds the log's lock, and another, begun in the same
// second, waited for it until its lock wait timed out (1205) and has not
// rolled back yet: an append's, the usual case in an incident. The store
// named the oldest transaction that holds locks by INNODB_TRX's
// trx_started, in whole seconds: the two tied, and the one that waited was
// named (3 of 3 runs). The holder must be named, whether or not the
// append that timed out still waits for the lock when the store looks.
func TestTheLockHolderNamedIsNotATransactionWhoseWaitForTheLockTimedOut(t *testing.T) {
	ctx, dsn := guardedTest(t)
	var logged testlog.Buffer
	s := openWithIdle(t, dsn, 0, mysqlstore.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	other := otherProcessDB(t, dsn)
	holder, waited := tiedHolderAndWaiter(ctx, t, other)
	// No session waits for the lock now: the store takes the oldest
	// transaction that holds locks.
	if got, err := s.LockHolder(ctx); err != nil || got != holder {
		t.Errorf("the store names connection %d (%v) as the holder of the log's lock; want %d (connection %d only waited for it)", got, err, holder, waited)
	}
	short, cancel := context.WithTimeout(ctx, time.Second)
	_, err := appendOne(short, s, uuid.New(), eventstore.NoStream)
	cancel()
	if !errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an append while another session held the log's lock past its deadline: %v; want it to fail at its deadline", err)
	}
	s.WaitLockHolderSearch()
	if !strings.Contains(logged.String(), fmt.Sprintf("holder_connection_id=%d ", holder)) {
		t.Fatalf("no log line names connection %d, which holds the log's lock (connection %d only waited for it); the log:\n%s",
			holder, waited, logged.String())
	}
}

// TestTheLockHolderNamedIsTheOneAWaiterOnTheLogsLockWaitsFor: a session
// whose transaction is older than the holder's timed out waiting for the
// log's lock and stays open, while another session waits for the lock. The
// store named the oldest transaction that holds locks, the one that had
// only waited; the server says whom a waiter waits for, and that session
// must be named, however the store asks (MySQL 8.0 has another table for
// it: TestTheLockWaitTablesAskedFirstAreTheServersOwn).
func TestTheLockHolderNamedIsTheOneAWaiterOnTheLogsLockWaitsFor(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s := openWithIdle(t, dsn, 0, mysqlstore.Options{})
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	other := otherProcessDB(t, dsn)
	older := session(ctx, t, other)
	if _, err := older.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		t.Fatal(err)
	}
	pastTheSecondOf(ctx, t, other)
	holder := session(ctx, t, other)
	lockRowAgain(ctx, t, holder, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	waitTimesOut(ctx, t, older)

	waiter := session(ctx, t, other)
	if _, err := waiter.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 50"); err != nil {
		t.Fatal(err)
	}
	if _, err := waiter.ExecContext(ctx, "START TRANSACTION"); err != nil {
		t.Fatal(err)
	}
	waiterID := connectionID(ctx, t, waiter)
	waited := make(chan error, 1)
	go func() {
		waited <- waiter.QueryRowContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE").Scan(new(int64))
	}()
	defer func() {
		holder.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // frees the waiter
		<-waited
	}()
	for {
		var n int
		if err := other.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
			waiterID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		select {
		case err := <-waited:
			t.Fatalf("the waiter's lock read ended (%v); want it waiting for the holder's lock", err)
		case <-ctx.Done():
			t.Fatalf("the server never showed connection %d waiting for the log's lock: %v", waiterID, ctx.Err())
		case <-time.After(200 * time.Millisecond): // INNODB_TRX is a cache that a read within 100 ms keeps stale
		}
	}
	// As MariaDB answers, and as the store asks MySQL 8.0, whose table
	// (performance_schema.data_lock_waits) MariaDB has not: the store
	// falls back on the other, not on the oldest transaction.
	for _, version := range []string{"", "8.0.36"} {
		if version != "" {
			s.AskLockWaitsAsOn(version)
		}
		got, err := s.LockHolder(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := connectionID(ctx, t, holder); got != want {
			t.Errorf("the store, asking as of a server of version %q, names connection %d as the holder of the log's lock; want %d, whom connection %d waits for "+
				"(connection %d, older, only waited for it)", version, got, want, waiterID, connectionID(ctx, t, older))
		}
	}
}

// tiedHolderAndWaiter has a session of db lock the log's lock and another,
// in the same second by the server's clock (INNODB_TRX's trx_started),
// wait for it until its lock wait times out, its transaction left open;
// it returns their connection ids once both are a second old.
func tiedHolderAndWaiter(ctx context.Context, t *testing.T, db *sql.DB) (holder, waited int64) {
	t.Helper()
	for try := 1; ; try++ {
		h, w := session(ctx, t, db), session(ctx, t, db)
		if _, err := w.ExecContext(ctx, "START TRANSACTION"); err != nil { // InnoDB's begins at its first statement
			t.Fatal(err)
		}
		// Begin both just after the server's clock turns a second.
		if _, err := h.ExecContext(ctx, "DO SLEEP(1 - MOD(UNIX_TIMESTAMP(SYSDATE(6)), 1))"); err != nil {
			t.Fatal(err)
		}
		lockRowAgain(ctx, t, h, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
		waitTimesOut(ctx, t, w)
		holder, waited = connectionID(ctx, t, h), connectionID(ctx, t, w)
		time.Sleep(200 * time.Millisecond) // INNODB_TRX is a cache that a read within 100 ms keeps stale
		var began, n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(DISTINCT trx_started), COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id IN (?, ?)",
			holder, waited).Scan(&began, &n); err != nil {
			t.Fatal(err)
		}
		if began == 1 && n == 2 {
			return holder, waited
		}
		if try == 10 {
			t.Fatalf("the holder's and the waiter's transactions never began in the same second (%d times of %d transactions) in %d tries", began, n, try)
		}
		for _, c := range []*sql.Conn{h, w} {
			if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitTimesOut has c, inside a transaction, wait a second for the log's
// lock, held by another session, until its wait times out (1205), and
// leaves the transaction open.
func waitTimesOut(ctx context.Context, t *testing.T, c *sql.Conn) {
	t.Helper()
	if _, err := c.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExecContext(ctx, "UPDATE log_head SET position = position WHERE id = 1")
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1205 {
		t.Fatalf("an update of the log's head, its lock held by another session: %v; want its lock wait to time out (1205)", err)
	}
}

// session is a connection of db's own that the test's end rolls back and closes.
func session(ctx context.Context, t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // the test's end
		c.Close()
	})
	return c
}

func connectionID(ctx context.Context, t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	var id int64
	if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// rollbackConn is a session whose ROLLBACK the database never answers
// (stopped, or a network that drops what it carries): it waits for its
// context, then records that context's cause. It records its Close.
type rollbackConn struct {
	fakeConn
	sent   chan struct{} // closed once ROLLBACK is sent
	cause  atomic.Pointer[error]
	closed atomic.Bool
}

func (c *rollbackConn) ExecContext(ctx context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	close(c.sent)
	<-ctx.Done()
	cause := context.Cause(ctx)
	c.cause.Store(&cause)
	return nil, ctx.Err()
}

func (c *rollbackConn) Close() error { c.closed.Store(true); return nil }

type rollbackConnector struct{ conn *rollbackConn }

func (c rollbackConnector) Connect(context.Context) (driver.Conn, error) { return c.conn, nil }
func (c rollbackConnector) Driver() driver.Driver                        { return nil }

// openRollback returns an open append transaction on a session whose
// ROLLBACK is never answered, its stall watch w, and the session.
func openRollback(t *testing.T, w *stallWatch) (*appendTx, *rollbackConn, *sql.DB) {
	t.Helper()
	rc := &rollbackConn{sent: make(chan struct{})}
	db := sql.OpenDB(rollbackConnector{rc})
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &appendTx{conn: conn, stall: w, open: true}, rc, db
}

// TestARollbackEndsWhenAStallBeginsAndItsSessionIsDiscarded: a group's
// ROLLBACK (its transaction failed) waited its own 5 s whatever the stall
// watch said, while the database answered nothing. It ends once a stall
// begins now, and its session, mid-transaction, is closed, never given
// back to the pool.
func TestARollbackEndsWhenAStallBeginsAndItsSessionIsDiscarded(t *testing.T) {
	t.Parallel()
	w := &stallWatch{log: slog.New(slog.DiscardHandler)}
	w.begun, w.onBegin = context.WithCancel(context.Background())
	tx, rc, db := openRollback(t, w)
	done := make(chan struct{})
	go func() { tx.rollback(); close(done) }()
	<-rc.sent
	w.mu.Lock()
	w.begin(time.Now())
	w.mu.Unlock()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the ROLLBACK to end")
	}
	if cause := rc.cause.Load(); cause == nil || !isStall(*cause) {
		t.Errorf("the ROLLBACK's wait ended with %v; want the stall's refusal, as the stall began", deref(cause))
	}
	if !rc.closed.Load() || db.Stats().Idle != 0 {
		t.Errorf("after a ROLLBACK cut by the stall: session closed %t, %d idle in the pool; want it closed, none idle", rc.closed.Load(), db.Stats().Idle)
	}
}

// TestARollbackWhileStalledDiscardsItsSessionAtOnce: a ROLLBACK begun
// while the database is stalled cannot be answered: the session is closed
// at once (which rolls back once the server reads it), never given back
// to the pool mid-transaction.
func TestARollbackWhileStalledDiscardsItsSessionAtOnce(t *testing.T) {
	t.Parallel()
	w := stalledWatch()
	w.log = slog.New(slog.DiscardHandler)
	tx, rc, db := openRollback(t, w)
	done := make(chan struct{})
	go func() { tx.rollback(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the ROLLBACK to end")
	}
	if cause := rc.cause.Load(); cause != nil && !isStall(*cause) {
		t.Errorf("the ROLLBACK's wait ended with %v; want none, or the stall's refusal", *cause)
	}
	if !rc.closed.Load() || db.Stats().Idle != 0 {
		t.Errorf("after a ROLLBACK while stalled: session closed %t, %d idle in the pool; want it closed, none idle", rc.closed.Load(), db.Stats().Idle)
	}
}

func deref(err *error) error {
	if err == nil {
		return errors.New("no wait")
	}
	return *err
}

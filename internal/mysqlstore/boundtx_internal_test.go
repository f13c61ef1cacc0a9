package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestACommitWhoseAnswerGoesSilentEndsAtItsBound: the driver's Commit reads
// COMMIT's answer with no context watched (database/sql gives it none), so
// on a connection black-holed as COMMIT went, tx.Commit sat in its socket
// read for ever, past the transaction's context (settling, dropping the
// snapshots), as rows' Close did before boundRows.
func TestACommitWhoseAnswerGoesSilentEndsAtItsBound(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := newConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang's, not a time asserted
	defer cancel()
	tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
	defer tcancel()
	tx, err := db.BeginTx(tctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(tctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	silent := proxy.StallAnswerAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("COMMIT")) }, 0)
	ended := make(chan error, 1)
	go func() { ended <- tx.Commit() }()
	<-silent
	select {
	case err := <-ended:
		t.Logf("the commit whose answer went silent ended: %v", err)
	case <-ctx.Done():
		t.Fatalf("a commit whose answer went silent was still in its socket read long past its transaction's bound")
	}
}

// silentRollback opens a connector's pool on a database behind a proxy, and
// a transaction on it (one statement run, within ctx) whose ROLLBACK's
// answer the proxy will black-hole (silent: closed once ROLLBACK went).
func silentRollback(t *testing.T, ctx context.Context) (db *sql.DB, tx *sql.Tx, silent <-chan struct{}) {
	t.Helper()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := newConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db = sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	silent = proxy.StallAnswerAfter(func(chunk []byte) bool { return bytes.Contains(chunk, []byte("ROLLBACK")) }, 0)
	return db, tx, silent
}

// waitDropped waits, until ctx ends, for db to hold no session: the one
// whose ROLLBACK went unanswered closed, never given back to the pool.
func waitDropped(t *testing.T, ctx context.Context, db *sql.DB, what string) {
	t.Helper()
	for db.Stats().OpenConnections != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d sessions still open long past its bound (in use %d, idle %d); want the session dropped",
				what, db.Stats().OpenConnections, db.Stats().InUse, db.Stats().Idle)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestARollbackWhoseAnswerGoesSilentEndsAtItsOwnBoundAndDropsItsSession:
// the driver reads ROLLBACK's answer with no context watched, as it did
// COMMIT's, so on a connection black-holed as ROLLBACK went (a failed
// settlement, a snapshot's drop, the lock probe), tx.Rollback sat in its
// socket read for ever, holding its session. It ends at a bound of its own
// and the session is closed, not pooled.
func TestARollbackWhoseAnswerGoesSilentEndsAtItsOwnBoundAndDropsItsSession(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang's, not a time asserted
	defer cancel()
	db, tx, silent := silentRollback(t, ctx)
	ended := make(chan error, 1)
	go func() { ended <- tx.Rollback() }()
	<-silent
	select {
	case err := <-ended:
		if err == nil {
			t.Errorf("a rollback whose answer never came returned nil; want its bound's error")
		}
	case <-ctx.Done():
		t.Fatalf("a rollback whose answer went silent was still in its socket read long past its bound")
	}
	waitDropped(t, ctx, db, "after a rollback whose answer went silent")
}

// TestARollbackAtTheContextsEndWhoseAnswerGoesSilentDropsItsSession:
// database/sql rolls a transaction back as its context ends (a request
// cancelled, a bound reached), by the driver's Rollback: on a connection
// black-holed then, that rollback sat in its socket read for ever, and its
// session stayed open and counted in use.
func TestARollbackAtTheContextsEndWhoseAnswerGoesSilentDropsItsSession(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a hang's, not a time asserted
	defer cancel()
	tctx, tcancel := context.WithCancel(ctx)
	db, _, silent := silentRollback(t, tctx)
	tcancel()
	<-silent
	waitDropped(t, ctx, db, "after the context of a transaction whose ROLLBACK went unanswered ended")
}

package mysqlstore

import (
	"context"
	"database/sql/driver"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestASessionThePoolOpensOnItsOwnEndsAtABoundWhenTheServerIsSilent:
// database/sql opens a session on its own, with a context that never ends
// (the pool's opener, once a session is dropped while a statement waits
// for one), and the driver's handshake then read the server's greeting
// with no bound but the DSN's readTimeout (none by default): on a server
// gone silent (a proxy black-holed, no FIN, no reset), that session held
// its place in the pool for ever, after the statement that waited had
// gone. The pools' sessions are made within connectTimeout then.
func TestASessionThePoolOpensOnItsOwnEndsAtABoundWhenTheServerIsSilent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang's, not a time asserted
	defer cancel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := newPool(c, 1)
	t.Cleanup(func() { db.Close() })
	held, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A statement waits for the pool's one session, and gives up.
	wctx, leave := context.WithCancel(ctx)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		if conn, err := db.Conn(wctx); err == nil {
			conn.Close()
		}
	}()
	for db.Stats().WaitCount == 0 {
		time.Sleep(time.Millisecond)
	}
	proxy.Stall()
	t.Cleanup(proxy.Resume) // before the pool's Close (cleanups run last first)
	// The session held is dropped: the pool opens another on its own for
	// the statement waiting, on the server now silent.
	held.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the point is the session's end
	held.Close()
	for db.Stats().OpenConnections == 0 {
		time.Sleep(time.Millisecond)
	}
	leave()
	<-waited
	for db.Stats().OpenConnections != 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("a session the pool opened on its own on a silent server still held its place (%d open) long after the statement waiting had gone; want it ended at its bound", db.Stats().OpenConnections)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

package mysqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestNoLockHolderIsSoughtWhileTheDatabaseIsStalled: an append sent before
// the database stopped answering (a server stopped or hung) waits its
// deadline, and one that ran out of time had the store search for the
// session holding the log's lock, for 3 s on a connection of its own:
// against a server that answers nothing, a new connection cut in its
// handshake (counted against the server's max_connect_errors for the host),
// for every such append, one search at a time, and nothing learnt. While
// the stall watch holds the database stalled, no search begins.
func TestNoLockHolderIsSoughtWhileTheDatabaseIsStalled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s := openMigrated(ctx, t, dsn, Options{})
	proxy.Stall()
	t.Cleanup(proxy.Resume) // before the store's Close (cleanups run last first)
	for s.Store.Stall() == nil {
		if ctx.Err() != nil {
			t.Fatal("the stall watch did not hold the database stalled within two minutes of the proxy's stall")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.sayLockHolder()
	if s.seeking.Load() {
		t.Errorf("an append ran out of time while the database is held stalled: the store began a search for the lock's holder; want none")
	}
}

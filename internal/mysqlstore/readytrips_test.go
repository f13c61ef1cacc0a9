package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestPingSendsNoPingOfItsOwnWhereItsQueriesAnswerForTheFeed: /readyz asks
// the store's Ping, which pinged the live feed's pool (COM_PING), then
// read the tables, the columns and the log's head on the primary's pool:
// with no read replica, the same pool, whose three queries answer for it,
// so the ping was a round trip more than /readyz needs. Counted on the
// server, on the pool's one session: three, and no ping.
func TestPingSendsNoPingOfItsOwnWhereItsQueriesAnswerForTheFeed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := teststore.OpenMySQL(t, mysqltest.NewDatabase(t))
	if !s.MariaDB() {
		t.Skip("not MariaDB: Com_admin_commands in SESSION_STATUS is MariaDB's")
	}
	trips := s.PrimaryRoundTrips()
	read := func() int64 {
		t.Helper()
		n, err := trips(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := read()
	perRead := read() - first
	before := read()
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if got := read() - before - perRead; got != 3 {
		t.Errorf("Ping sent %d commands to the server, want 3 (the tables, the columns, the log's head; no ping of its own)", got)
	}
}

package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAFenceOnMariaDBIsOneStatement: with the binary log off, every read
// waits for a fence. Bounding the fence's lock waits by its caller's
// deadline took a session of its own and three round trips on MariaDB (SET
// SESSION the waits, the upsert, SET SESSION them back), whose
// lock_wait_timeout (86400 s by default) is past any deadline; MariaDB takes
// the bound and the upsert in one statement (SET STATEMENT … FOR), with a
// deadline and without.
func TestAFenceOnMariaDBIsOneStatement(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := teststore.OpenMySQL(t, mysqltest.NewDatabase(t))
	if !s.Fences() {
		t.Skip("the binary log is on: no fence is written")
	}
	if !s.MariaDB() {
		t.Skip("not MariaDB: MySQL has no SET STATEMENT")
	}
	session := s.OnePrimarySession()
	read := func() (int64, int64) {
		t.Helper()
		id, n, err := session(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return id, n
	}
	// What one reading of the count costs.
	id, first := read()
	_, second := read()
	perRead := second - first
	for i, c := range []struct {
		name string
		ctx  context.Context
	}{
		{"a fence whose caller's deadline is short of the session's lock waits", ctx},
		{"a fence whose caller has no deadline", context.Background()},
	} {
		_, before := read()
		if err := s.Tail().WaitDurable(c.ctx, int64(i+1)); err != nil {
			t.Fatalf("%s: WaitDurable: %v", c.name, err)
		}
		after, n := read()
		if after != id {
			t.Fatalf("%s: the pool's one session was %d, then %d: the fence dropped it", c.name, id, after)
		}
		if got := n - before - perRead; got != 1 {
			t.Errorf("%s: %d statements, want 1", c.name, got)
		}
	}
}

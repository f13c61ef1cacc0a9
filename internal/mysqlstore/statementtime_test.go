package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAReadTheServerCutsAtItsStatementTimeIsUnavailable: a server, or the
// DSN, may bound every statement's time (MariaDB's max_statement_time,
// MySQL's max_execution_time), as DBAs do against runaway queries. A read
// the server cut so, here one waiting for a table another session holds
// locked, failed with the server's error (1969 on MariaDB) passed on as it
// was: a 500 "internal error". The store's own bound on a read (readTimeout)
// ends the same read as a 503; so must the server's.
func TestAReadTheServerCutsAtItsStatementTimeIsUnavailable(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn+"?max_statement_time=1")
	if !s.MariaDB() {
		t.Skip("not MariaDB: max_statement_time is MariaDB's")
	}
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	holder, err := otherProcessDB(t, dsn).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		holder.ExecContext(context.Background(), "UNLOCK TABLES") //nolint:errcheck // the test's end
		holder.Close()
	})
	if _, err := holder.ExecContext(ctx, "LOCK TABLES events WRITE, streams WRITE"); err != nil {
		t.Fatal(err)
	}
	// The read's own time, 45 s, is far past the server's cut (1 s): an
	// answer after 30 s was not the server's cut, whatever the load.
	read, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	start := time.Now()
	_, err = s.Stream(read, stream)
	if !errors.Is(err, eventstore.ErrUnavailable) || time.Since(start) > 30*time.Second {
		t.Errorf("a read the server cut at its max_statement_time (1 s): %v after %v; want an error wrapping ErrUnavailable after about a second", err, time.Since(start).Round(time.Millisecond))
	}
}

// TestAFenceTheServerCutsAtItsStatementTimeIsNotWrittenAgain: a fence that
// waits for its row (another session holds it) past the server's bound on a
// statement's time (max_statement_time, here the DSN's) is ended by the
// server on a live session. The fence took that for a lost session and wrote
// itself again on another, three times in all, each waiting out the same
// bound: three times the wait, for the same answer. It is written once, and
// the wait fails as unavailable.
func TestAFenceTheServerCutsAtItsStatementTimeIsNotWrittenAgain(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, m := openCounted(t, dsn+"?max_statement_time=1")
	if !s.MariaDB() {
		t.Skip("not MariaDB: max_statement_time is MariaDB's")
	}
	if !s.Fences() {
		t.Skip("the binary log is on: no fence is written")
	}
	holdRowLock(ctx, t, s, otherProcessDB(t, dsn), "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
	before := teststore.Statements(t, m, "fence")
	wait, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := s.Tail().WaitDurable(wait, 1)
	if !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("a fence the server cut at its max_statement_time (1 s): %v; want an error wrapping ErrUnavailable", err)
	}
	if n := teststore.Statements(t, m, "fence") - before; n != 1 {
		t.Errorf("a fence the server cut at its max_statement_time was written %d times; want once: its session was not lost", n)
	}
}

// TestSettlingTheServerCutsAtItsStatementTimeDoesNotLookAgain: an append's
// round trip with COMMIT is lost (held past its deadline), and settling's
// wait for the log's lock (another session holds it) is ended by the
// server's bound on a statement's time. Settling took that for a lost
// session and looked again on another, which met the same bound: a second
// wait, the same unknown outcome. It looks once; the append is of unknown
// outcome.
func TestSettlingTheServerCutsAtItsStatementTimeDoesNotLookAgain(t *testing.T) {
	t.Parallel()
	ctx, dsn, proxy, s, m, mine, ev := oneEventBehindProxyWith(t, map[string]string{"max_statement_time": "1"})
	if !s.MariaDB() {
		t.Skip("not MariaDB: max_statement_time is MariaDB's")
	}
	lockLogPastProxy(ctx, t, dsn, proxy)
	held, release := proxy.HoldAfter(mysqltest.SendsCommit)
	defer release()
	res, err := appendHeldPastItsDeadline(ctx, t, s, mine, ev, held)
	if !errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("append whose settling the server cut at its max_statement_time: %+v, %v; want it of unknown outcome", res, err)
	}
	if n := teststore.Statements(t, m, "settle_lock_head"); n != 1 {
		t.Errorf("settle_lock_head %d; want 1: settling's session was not lost, the server's time limit ended its statement", n)
	}
}

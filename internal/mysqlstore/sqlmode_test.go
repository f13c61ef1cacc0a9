package mysqlstore_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// withParam appends a DSN parameter.
func withParam(dsn, param string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + param
	}
	return dsn + "?" + param
}

// TestAppendsWorkWithEveryFormOfTheDSNsSQLMode: a DSN's sql_mode, in any
// form the driver and the server accept (MySQL takes a bare word in SET),
// must leave the store able to append, on the read-first path and in one
// round trip.
func TestAppendsWorkWithEveryFormOfTheDSNsSQLMode(t *testing.T) {
	t.Parallel()
	for _, param := range []string{
		"sql_mode=%27%27",
		"sql_mode=%27TRADITIONAL%27",
		"sql_mode=%27ANSI%27",
		"sql_mode=%27STRICT_ALL_TABLES%27",
		"sql_mode=%27ANSI_QUOTES,NO_BACKSLASH_ESCAPES%27",
		"sql_mode=TRADITIONAL", // bare, as `SET sql_mode = TRADITIONAL` takes it
		"sql_mode=ANSI",
		"sql_mode=DEFAULT",
		"SQL_MODE=%27%27",
	} {
		t.Run(param, func(t *testing.T) {
			t.Parallel()
			ctx, _, s, m := openWithParam(t, param)
			x := uuid.New()
			for v := range int64(3) {
				if _, err := appendOne(ctx, s, x, eventstore.Exactly(v)); err != nil {
					t.Fatalf("DSN %s: append at version %d: %v", param, v, err)
				}
			}
			if teststore.Statements(t, m, "guard_head") != 2 {
				t.Errorf("DSN %s: %d groups in one round trip; want 2", param, teststore.Statements(t, m, "guard_head"))
			}
			var mode string
			if err := s.WritesPool().QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(strings.Split(mode, ","), "STRICT_TRANS_TABLES") {
				t.Errorf("DSN %s: writer's sql_mode %q is not strict", param, mode)
			}
			checkLog(ctx, t, s)
		})
	}
}

// TestTheWritersSessionsAreStrictWhateverCaseTheDSNSpellsSQLModeIn: the server
// takes SQL_MODE as sql_mode; the driver sends both of the DSN's and the
// store's in one SET, in map order. Every writer session must be strict.
func TestTheWritersSessionsAreStrictWhateverCaseTheDSNSpellsSQLModeIn(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, withParam(dsn, "SQL_MODE=%27%27"))
	pool := s.WritesPool()
	pool.SetMaxOpenConns(0) // room for every connection held below
	var conns []interface{ Close() error }
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 12 {
		c, err := pool.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var mode string
		if err := c.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(strings.Split(mode, ","), "STRICT_TRANS_TABLES") {
			t.Fatalf("writer connection %d runs sql_mode %q; want it strict", i, mode)
		}
	}
}

// TestAStaleGroupOfTwoStreamsIsStoppedWhateverTheDSNsSQLMode: the
// end-to-end consequence of a writer session that is not strict (found by a
// review: with SQL_MODE empty in the DSN, about one writer session in two was
// not, and the group below committed). The writer
// knows x and y; another process appends to x; then a group of two calls
// (x expecting the version the writer last saw, y) goes in one round trip.
// Its guard sets the time to NULL, but both multi-row INSERTs store a zero
// time instead of refusing it, and the stale group commits: x's append
// expecting 1 succeeds while x is at 2. The writer is kept busy, without
// touching its snapshot, by a call it refuses after reading first, while
// another connection holds the log's lock; the x and y calls queue behind it
// and become one group.
func TestAStaleGroupOfTwoStreamsIsStoppedWhateverTheDSNsSQLMode(t *testing.T) {
	for _, param := range []string{"", "SQL_MODE=%27%27"} {
		t.Run("DSN "+param, func(t *testing.T) {
			ctx, dsn := guardedTest(t)
			openCounted(t, dsn) // migrates
			// The driver sends SQL_MODE and the store's sql_mode in one SET,
			// in map order: open until the writer's session is not strict
			// (about one try in two).
			var s *mysqlstore.Store
			var m *metrics.Metrics
			var mode string
			for try := 0; ; try++ {
				s, m = openCounted(t, withParam(dsn, param))
				pool := s.WritesPool()
				pool.SetMaxOpenConns(1) // the writer's one session, whose mode is checked
				if err := pool.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode").Scan(&mode); err != nil {
					t.Fatal(err)
				}
				if param == "" || !strings.Contains(mode, "STRICT") || try == 5 {
					break
				}
			}
			t.Logf("the writer's session runs sql_mode %q", mode)
			b, _ := openCounted(t, dsn)
			x, y, z := uuid.New(), uuid.New(), uuid.New()
			appendVersions(ctx, t, s, x, 1)
			appendVersions(ctx, t, s, y, 1)
			if _, err := appendOne(ctx, s, x, eventstore.Exactly(1)); err != nil { // position 3: the snapshot knows x at 2, y at 1
				t.Fatal(err)
			}
			db := otherProcessDB(t, dsn)
			// the database loses x's version 2, at position 3
			loseCommitsAfter(ctx, t, db, 2, nil)
			if _, err := appendOne(ctx, b, z, eventstore.NoStream); err != nil { // the head is 3 again
				t.Fatal(err)
			}
			lock, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lock.ExecContext(ctx, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE"); err != nil {
				t.Fatal(err)
			}
			blocked := make(chan error, 1)
			go func() { _, err := appendOne(ctx, s, x, eventstore.Exactly(99)); blocked <- err }()
			time.Sleep(200 * time.Millisecond) // the writer waits for the lock, reading first
			guards := teststore.Statements(t, m, "guard_head")
			var errX, errY error
			var wg sync.WaitGroup
			wg.Go(func() { _, errX = appendOne(ctx, s, x, eventstore.Exactly(2)) })
			wg.Go(func() { _, errY = appendOne(ctx, s, y, eventstore.Exactly(1)) })
			time.Sleep(200 * time.Millisecond) // both queue behind it
			if err := lock.Commit(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			<-blocked
			if teststore.Statements(t, m, "guard_head") != guards+1 {
				t.Skipf("the x and y calls did not go as one group in one round trip (%d)", teststore.Statements(t, m, "guard_head")-guards)
			}
			t.Logf("x: %v; y: %v; read first %d", errX, errY, teststore.Statements(t, m, "read_streams"))
			var wrong *eventstore.WrongExpectedVersionError
			if !errors.As(errX, &wrong) || wrong.Current != 1 {
				t.Errorf("append expecting version 2 of x, at 1: %v; want a wrong expected version, current 1", errX)
			}
			if errY != nil {
				t.Errorf("append to y: %v", errY)
			}
			var zero int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE recorded_at < '2000-01-01'").Scan(&zero); err != nil {
				t.Fatal(err)
			}
			if zero > 0 {
				t.Errorf("%d events stored with a zero time", zero)
			}
		})
	}
}

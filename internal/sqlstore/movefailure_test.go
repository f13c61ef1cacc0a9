package sqlstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlstore"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// readOnlyRefusal is the error a primary put in read_only answers an UPDATE.
var readOnlyRefusal = mysqltest.ErrorPacket(1290, "The MariaDB server is running with the --read-only option so it cannot execute this statement")

// movesCommitID reports whether chunk sends the move of log_head's commit id.
func movesCommitID(chunk []byte) bool { return bytes.Contains(chunk, []byte("SET commit_id")) }

// openDamagedBehindProxy opens a MySQL store behind a fault proxy, logging
// into logged, with one stream whose row of streams is deleted, after set.
func openDamagedBehindProxy(t *testing.T, logged *testlog.Buffer, set func(s *sqlstore.Store)) (*mysqlstore.Store, *faultproxy.Proxy, uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	dsn, p := mysqltest.NewDatabaseBehindProxy(t)
	store, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Logger: slog.New(slog.NewTextHandler(logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	set(store.Store)
	id := uuid.New()
	appendTwo(t, store, id)
	if _, err := sqlstore.WritesPool(store.Store).ExecContext(ctx, "DELETE FROM streams WHERE stream_id = ?", id[:]); err != nil {
		t.Fatal(err)
	}
	return store, p, id
}

// linesSaying returns the lines of logged that contain what.
func linesSaying(logged *testlog.Buffer, what string) []string {
	var got []string
	for line := range strings.Lines(logged.String()) {
		if strings.Contains(line, what) {
			got = append(got, line)
		}
	}
	return got
}

// movesNotDropped is the words of the WARN of a move that failed.
const movesNotDropped = "could not be dropped"

// TestAFailingMoveOfTheCommitIDWaitsAndWarnsOnce: a move of log_head's
// commit id that failed (the primary read-only, error 1290, as for
// maintenance or a failover, or a proxy's query rule) was tried again at
// once while reads went on meeting the damage, each failure logged: 300
// reads of a damaged stream sent 58 UPDATEs and logged 58 WARNs in a
// second. A failed attempt now waits too, and the WARN comes once for a
// spell of failures. Here the wait is an hour: the reads make one attempt.
// MySQL (the embedded store keeps no snapshot to drop).
func TestAFailingMoveOfTheCommitIDWaitsAndWarnsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var logged testlog.Buffer
	store, p, id := openDamagedBehindProxy(t, &logged, func(s *sqlstore.Store) { sqlstore.SetSnapshotDrops(s, time.Hour, 0) })
	var refused atomic.Int64
	p.AnswerInstead(func(chunk []byte) bool {
		if movesCommitID(chunk) {
			refused.Add(1)
			return true
		}
		return false
	}, readOnlyRefusal)
	const reads = 300
	for range reads {
		if _, err := store.Stream(ctx, id); !isRowMissing(err) {
			t.Fatalf("a read of the stream whose row of streams is missing: %v; want the damage", err)
		}
	}
	for end := time.Now().Add(30 * time.Second); refused.Load() == 0 || len(linesSaying(&logged, movesNotDropped)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d reads of a damaged stream: %d moves refused, no WARN of it; want one move tried and its failure logged", reads, refused.Load())
		}
	}
	if n, warns := refused.Load(), len(linesSaying(&logged, movesNotDropped)); n != 1 || warns != 1 {
		t.Errorf("%d reads of a damaged stream while the primary refuses the move: %d moves sent, %d WARNs; want one of each (the next no sooner than the wait after the last began)", reads, n, warns)
	}
}

// TestFailedMovesOfTheCommitIDBackOffAndAreLoggedOncePerSpell: while moves
// of the commit id fail, each waits twice as long after the last began as
// the one before did; the spell of failures is logged once (until a minute
// has passed), the move that ends it says how many failed, and the next
// failure, a new spell, is logged at once. MySQL.
func TestFailedMovesOfTheCommitIDBackOffAndAreLoggedOncePerSpell(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A move's UPDATE reaches the proxy after a connection's opening, its
	// wait_for_locks and its BEGIN: under -race on a loaded machine those
	// took 70 ms once, and a first wait of 100 ms was seen as 30 ms.
	const every = 300 * time.Millisecond
	var logged testlog.Buffer
	store, p, id := openDamagedBehindProxy(t, &logged, func(s *sqlstore.Store) { sqlstore.SetSnapshotDrops(s, every, 0) })
	var (
		mu    sync.Mutex
		tried []time.Time
	)
	attempts := func() []time.Time {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Time(nil), tried...)
	}
	refuse := func() {
		p.AnswerInstead(func(chunk []byte) bool {
			if !movesCommitID(chunk) {
				return false
			}
			mu.Lock()
			tried = append(tried, time.Now())
			mu.Unlock()
			return true
		}, readOnlyRefusal)
	}
	read := func() {
		t.Helper()
		if _, err := store.Stream(ctx, id); !isRowMissing(err) {
			t.Fatalf("a read of the stream whose row of streams is missing: %v; want the damage", err)
		}
	}
	refuse()
	const failures = 4
	for end := time.Now().Add(60 * time.Second); len(attempts()) < failures; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("reads met the damage for a minute: %d moves tried; want %d", len(attempts()), failures)
		}
		read()
	}
	sqlstore.WaitSnapshotDrops(store.Store)
	got := attempts()
	// Each attempt began before the proxy saw it, later by a connection's
	// opening at most: a wait is checked to half of what it must be.
	for i := 1; i < len(got); i++ {
		want := every << (i - 1)
		if gap := got[i].Sub(got[i-1]); gap < want/2 {
			t.Errorf("move %d of the commit id, after %d failed, came %v after the one before; want about %v (doubling)", i+1, i, gap, want)
		}
	}
	if warns := linesSaying(&logged, movesNotDropped); len(warns) != 1 {
		t.Errorf("%d moves of the commit id failed within a minute: %d WARNs; want one:\n%s", len(got), len(warns), logged.String())
	}
	// The primary writable again: the next move succeeds and says so.
	p.AnswerInstead(func([]byte) bool { return false }, nil)
	read()
	sqlstore.WaitSnapshotDrops(store.Store)
	moved := linesSaying(&logged, "after moves that failed")
	if len(moved) != 1 || !strings.Contains(moved[0], "failed_moves="+strconv.Itoa(len(got))) {
		t.Errorf("the move that ended a spell of %d that failed logged %q; want one line counting them (failed_moves=%d)", len(got), moved, len(got))
	}
	// A new spell is logged at once.
	refuse()
	for end := time.Now().Add(60 * time.Second); len(linesSaying(&logged, movesNotDropped)) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("a move failed after one succeeded: %d WARNs; want a second, at once:\n%s", len(linesSaying(&logged, movesNotDropped)), logged.String())
		}
		read()
	}
}

package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A retry of a batch already stored (the same event ids, the same content)
// whose time ran out while its group was still being tried was told that
// its append "was not written, and will not be": the writer's plan had
// found the batch in the log, but its next try (after the fence's lock
// wait, or with the callers who had time left) forgot it, and the answer
// was that of an append that never reached the database. A client without
// ids of its own would send its events again. Its events are there: it is
// told so, as stored, or as stored but not confirmed durable
// (ErrOutcomeUnknown with ErrDurabilityUnconfirmed), never as not written.

// TestARetryOfAStoredBatchWhoseTimeRunsOutWhileTheFenceIsLockedIsNotToldNotWritten:
// the fence's row held by another session, whose lock the server's wait
// (1 s) gives up on well within the request's time: the writer tries the
// group again, and its next try waits for the log's lock, which another
// session now holds too, until the request's time is up.
func TestARetryOfAStoredBatchWhoseTimeRunsOutWhileTheFenceIsLockedIsNotToldNotWritten(t *testing.T) {
	ctx, dsn := guardedTest(t)
	other, _ := openCounted(t, dsn) // another process, which stored the batch
	x, id := uuid.New(), uuid.New()
	if _, err := appendOne(ctx, other, x, eventstore.NoStream, id); err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The server's own wait for a row lock (1 s) ends well before the request's.
	cfg.Params = map[string]string{"innodb_lock_wait_timeout": "1"}
	s, _ := openCounted(t, cfg.FormatDSN())
	if !s.Fences() {
		t.Skip("the binary log is on: no fence is written")
	}
	db := otherProcessDB(t, dsn)
	lockRow(ctx, t, db, "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")

	got := make(chan error, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
		defer cancel()
		_, err := appendOne(actx, s, x, eventstore.NoStream, id)
		got <- err
	}()
	// Once the retry's fence waits (its plan read the log, and let the
	// log's lock go), the log's lock is taken too: the group's next try
	// waits for it until the request's time is up.
	waitForStatement(ctx, t, db, "%INTO durability_fence%")
	lockRow(ctx, t, db, "SELECT position FROM log_head WHERE id = 1 FOR UPDATE")
	err = <-got
	if !errors.Is(err, eventstore.ErrOutcomeUnknown) || !errors.Is(err, eventstore.ErrDurabilityUnconfirmed) {
		t.Errorf("a retry of a stored batch, its time up while the fence's row and then the log's lock were held: %v; "+
			"want an error wrapping ErrOutcomeUnknown and ErrDurabilityUnconfirmed (stored, not confirmed durable), never \"not written\"", err)
	}
	if n := countEvents(ctx, t, db); n != 1 {
		t.Errorf("the log holds %d events; want the batch once", n)
	}
}

// TestARetryOfAStoredBatchLeftByItsGroupIsNotToldNotWritten: a retry goes
// in one group with an append to another stream; a report's locking read
// of events holds the gap where new events go, so the group's writes are
// refused, and tried again while its callers wait. When the retry's time
// is nearly up, it leaves the group, whose other caller has time left: it
// was told "refused", not written.
//
// The two queue behind a first append held before its COMMIT, and the
// report takes its lock while their group, its reads done, is held before
// its writes. (The first was one refused until its time was up: a try of
// it cut by that time in flight is settled, which on a loaded machine held
// the writer past the retry's time; the retry, never read, was then
// rightly told that it was not written, and the test failed.)
func TestARetryOfAStoredBatchLeftByItsGroupIsNotToldNotWritten(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	x, z, id := uuid.New(), uuid.New(), uuid.New()
	appendVersions(ctx, t, s, x, 2)
	if _, err := appendOne(ctx, s, z, eventstore.NoStream, id); err != nil {
		t.Fatal(err)
	}
	// Held before its writes: the first append, then the group's first try.
	held, hold := make(chan struct{}), make(chan struct{})
	var holds int
	s.SetBeforeCommit(func() {
		if holds++; holds <= 2 {
			held <- struct{}{}
			<-hold
		}
	})
	first := make(chan error, 1)
	go func() {
		_, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
		first <- err
	}()
	<-held
	retry, long := make(chan error, 1), make(chan error, 1)
	retryCtx, cancelRetry := context.WithTimeout(ctx, 2500*time.Millisecond)
	defer cancelRetry()
	go func() {
		_, err := appendOne(retryCtx, s, z, eventstore.NoStream, id)
		retry <- err
	}()
	go func() {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := appendOne(actx, s, x, eventstore.Any)
		long <- err
	}()
	waitQueued(ctx, t, s, 2) // the writer's next group, both
	hold <- struct{}{}
	if err := <-first; err != nil {
		t.Fatalf("the first append: %v", err)
	}
	<-held // the group's plan made: the retry's batch found stored
	// REPEATABLE READ: the gap past the last event, where the next INSERT
	// goes, not the events, which the group's reads lock.
	report, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer report.Rollback() //nolint:errcheck // the test's end
	var n int
	if err := report.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE position > 4 FOR UPDATE").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the report's read: %d events past the fourth, %v; want none", n, err)
	}
	hold <- struct{}{}
	// The report ends once the retry's time is up (seen, not slept for),
	// well within the other's.
	<-retryCtx.Done()
	if err := report.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-retry; err != nil && !errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("a retry of a stored batch that left its group as its time ran out: %v; "+
			"want it answered as stored, or as of unknown outcome, never as not written", err)
	}
	if err := <-long; err != nil {
		t.Errorf("the append with time left: %v; want it written once the report ended", err)
	}
	if n := countEvents(ctx, t, db); n != 5 {
		t.Errorf("the log holds %d events; want 5 (the retry's batch once)", n)
	}
}

// TestARetryWhoseFenceIsLockedPastItsTimeSaysSo: the fence's row held by
// another session past the request's time, a retry of a stored batch is
// told its batch is stored, not confirmed durable; the reason it gives
// said "the database did not answer within the request's time" (which
// sends an operator to a stalled server), or, once the server's own wait
// for the fence's lock had ended within the request's time, "the write
// lock was not free" (which sends them to the log's lock). It says what
// was waited for: the durability of what the append read.
func TestARetryWhoseFenceIsLockedPastItsTimeSaysSo(t *testing.T) {
	for _, wait := range []string{"", "1"} {
		name := map[string]string{"": "the server's wait for the lock past the request's time", "1": "the server's wait for the lock 1 s"}[wait]
		t.Run(name, func(t *testing.T) {
			ctx, dsn := guardedTest(t)
			other, _ := openCounted(t, dsn) // another process, which stored the batch
			x, id := uuid.New(), uuid.New()
			if _, err := appendOne(ctx, other, x, eventstore.NoStream, id); err != nil {
				t.Fatal(err)
			}
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			if wait != "" {
				cfg.Params = map[string]string{"innodb_lock_wait_timeout": wait}
			}
			s, _ := openCounted(t, cfg.FormatDSN())
			if !s.Fences() {
				t.Skip("the binary log is on: no fence is written")
			}
			lockRow(ctx, t, otherProcessDB(t, dsn), "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")
			actx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			defer cancel()
			_, err = appendOne(actx, s, x, eventstore.NoStream, id)
			if !errors.Is(err, eventstore.ErrOutcomeUnknown) || !errors.Is(err, eventstore.ErrDurabilityUnconfirmed) ||
				!strings.Contains(err.Error(), "could not be confirmed durable within the request's time") ||
				strings.Contains(err.Error(), "did not answer") || strings.Contains(err.Error(), "write lock") {
				t.Errorf("a retry of a stored batch, the fence's row locked past its time: %v; want an error wrapping ErrOutcomeUnknown "+
					"and ErrDurabilityUnconfirmed that says what it read could not be confirmed durable within the request's time, "+
					"and blames neither a silent database nor the write lock", err)
			}
		})
	}
}

// waitForStatement waits until a session other than db's runs a statement
// like pattern.
func waitForStatement(ctx context.Context, t *testing.T, db *sql.DB, pattern string) {
	t.Helper()
	for {
		var n int
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()", pattern).Scan(&n)
		if err != nil {
			t.Fatalf("look for a statement like %q: %v", pattern, err)
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no session ran a statement like %q", pattern)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// countEvents is how many events the log holds.
func countEvents(ctx context.Context, t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// leavingContext is a caller's context that gives up as the writer asks it
// for the n-th time whether its caller still waits: at a chosen point of a
// group's tries, without depending on how soon a timer fires.
type leavingContext struct {
	context.Context
	mu    sync.Mutex
	asked int
	n     int
}

func (c *leavingContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.asked++; c.asked >= c.n {
		return context.Canceled
	}
	return nil
}

// TestAGroupWhoseLastTryACallerLeftAnswersTheOthers: a group is tried three
// times in all; its first two tries fail on a row in the way (something
// wrote an event at the next position without the log's lock), and in the
// third a caller leaves just before COMMIT. The writer stopped there, taking
// "every caller left" for the group's answer: every call of the group,
// the one still waiting too, was answered with no error and nothing written.
func TestAGroupWhoseLastTryACallerLeftAnswersTheOthers(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	appendVersions(ctx, t, s, uuid.New(), 1) // position 1
	// Position 3 taken behind the log's back: the first append below
	// takes 2, and the group after it plans 3.
	stray, y := uuid.New(), uuid.New()
	if _, err := db.ExecContext(ctx, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) "+
		"VALUES (3, ?, ?, 1, 'thing', 'Stray', '{}', NOW(6))", stray[:], y[:]); err != nil {
		t.Fatal(err)
	}

	// A first append held before its COMMIT, so that the two queue behind
	// it and go as one group; with the hook set, every group reads first.
	release := holdFirstAppend(ctx, s)
	// The writer asks whether a caller still waits as it takes the group
	// (while the first commits) and as it begins it, and before each try
	// and each try's COMMIT: the eighth is the third try's COMMIT.
	leaving := &leavingContext{Context: ctx, n: 8}
	stays, leaves := make(chan error, 1), make(chan error, 1)
	go func() {
		res, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
		if err == nil && len(res.Events) == 0 {
			err = errors.New("no error, and no event written")
		}
		stays <- err
	}()
	go func() {
		_, err := appendOne(leaving, s, uuid.New(), eventstore.NoStream)
		leaves <- err
	}()
	waitQueued(ctx, t, s, 2) // both queued behind the first, so one group
	if err := release(); err != nil {
		t.Fatalf("the first append: %v", err)
	}
	if err := <-leaves; err == nil {
		t.Errorf("the append whose caller left before COMMIT: no error; want its caller's")
	}
	if err := <-stays; err == nil || !strings.Contains(err.Error(), "without the log lock") {
		t.Errorf("the append whose caller waited, in a group whose next position is taken behind the log's back: %v; "+
			"want the error that says something writes without the log lock", err)
	}
	if n := countEvents(ctx, t, db); n != 3 {
		t.Errorf("the log holds %d events; want 3 (nothing of the group)", n)
	}
}

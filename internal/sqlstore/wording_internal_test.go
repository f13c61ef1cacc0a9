package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A database the writer's tests script: each statement's answer is what
// answer returns, given the statement's context and text.

type scripted struct {
	answer func(ctx context.Context, query string) (driver.Rows, error)
}

func (s *scripted) Connect(context.Context) (driver.Conn, error) { return scriptedConn{s}, nil }
func (s *scripted) Driver() driver.Driver                        { return s }
func (s *scripted) Open(string) (driver.Conn, error)             { return scriptedConn{s}, nil }

type scriptedConn struct{ s *scripted }

func (c scriptedConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not scripted") }
func (c scriptedConn) Close() error                        { return nil }
func (c scriptedConn) Begin() (driver.Tx, error)           { return nil, errors.New("not scripted") }
func (c scriptedConn) ExecContext(ctx context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	rows, err := c.s.answer(ctx, query)
	if rows != nil {
		rows.Close()
	}
	return driver.RowsAffected(0), err
}
func (c scriptedConn) QueryContext(ctx context.Context, query string, _ []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.s.answer(ctx, query)
	if err == nil && rows == nil {
		rows = &scriptedRows{}
	}
	return rows, err
}

// scriptedRows is one result set of rows, each of len(cols) values.
type scriptedRows struct {
	cols []string
	rows [][]driver.Value
}

func (r *scriptedRows) Columns() []string { return r.cols }
func (r *scriptedRows) Close() error      { return nil }
func (r *scriptedRows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}

// scriptedWriter is a writer (not started) on a database scripted by answer.
func scriptedWriter(t *testing.T, d Dialect, answer func(ctx context.Context, query string) (driver.Rows, error)) *writer {
	t.Helper()
	db := sql.OpenDB(&scripted{answer: answer})
	t.Cleanup(func() { db.Close() })
	d.Begin, d.LockHead = "BEGIN", "lock_head"
	if d.Translate == nil {
		d.Translate = func(err error) error { return err }
	}
	never := func(error) bool { return false }
	if d.Retryable == nil {
		d.Retryable = never
	}
	d.Conflict = never
	return &writer{d: d, db: db, waitDurable: func(context.Context, int64) error { return nil }, log: slog.New(slog.DiscardHandler)}
}

// scriptedCall is an append of one event to a new stream, by a caller
// whose context is ctx.
func scriptedCall(ctx context.Context) *call {
	return &call{ctx: ctx, done: make(chan struct{}), req: eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing",
		Expected: eventstore.NoStream, Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "happened", Data: []byte(`{}`)}}}}
}

// answered runs a group of c alone and returns its answer.
func answered(w *writer, c *call) error {
	w.commit([]*call{c}, nil)
	<-c.done
	return c.err
}

// TestAGroupWhoseTimeEndsWaitingForAConnectionSaysSo: every connection
// of the writer's pool in use (held by a stuck round trip, a pool too
// small), a group's time ended in its wait for one, and the append said
// "the database did not answer within the request's time": no statement
// was sent. It says that no connection was free.
func TestAGroupWhoseTimeEndsWaitingForAConnectionSaysSo(t *testing.T) {
	w := scriptedWriter(t, Dialect{}, func(context.Context, string) (driver.Rows, error) {
		return nil, errors.New("no statement should be sent")
	})
	w.db.SetMaxOpenConns(1)
	held, err := w.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = answered(w, scriptedCall(ctx))
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "no connection to the database was free within the request's time") {
		t.Errorf("an append whose time ended while every connection of the writer's pool was in use: %v; "+
			"want an error wrapping ErrUnavailable that says no connection to the database was free within the request's time", err)
	}
}

// TestAGroupWhoseTimeEndsWaitingForTheWriterLeaseSaysSo: on a node of a
// Galera cluster that does not hold the writer lease, a group waits for
// the store to reach the node that does; its time ended in that wait, and
// the append said "the database did not answer within the request's time".
// It says what it waited for.
func TestAGroupWhoseTimeEndsWaitingForTheWriterLeaseSaysSo(t *testing.T) {
	d := Dialect{Leased: true, NotWriter: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	w := scriptedWriter(t, d, func(_ context.Context, query string) (driver.Rows, error) {
		if query == "lock_head" { // the lease is another node's
			return &scriptedRows{cols: []string{"position", "recorded_at", "leased"}, rows: [][]driver.Value{{int64(0), nil, false}}}, nil
		}
		return nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := answered(w, scriptedCall(ctx))
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "writer lease") || strings.Contains(err.Error(), "did not answer") {
		t.Errorf("an append whose time ended while the store waited for the node that holds the writer lease: %v; "+
			"want an error wrapping ErrUnavailable that names the writer lease, not a database that did not answer", err)
	}
}

// heldTimer is a caller's context whose deadline has passed and whose
// timer has not yet fired: the order two timers of one instant fire in
// (the caller's, the group's), made certain.
type heldTimer struct {
	context.Context
	deadline time.Time
}

func (c heldTimer) Deadline() (time.Time, bool) { return c.deadline, true }

// TestALockRefusedAsTheGroupsTimeEndsSaysSo: the database refuses a lock
// the group's reads need (MySQL's 1205: another session holds it) as the
// group's time ends. A refusal is tried again while there is time; there
// was none, yet the writer began another try, which ended at once: the
// append said "the database did not answer within the request's time
// (begin: context deadline exceeded)", neither of which is what happened.
// It says that the lock was not free.
func TestALockRefusedAsTheGroupsTimeEndsSaysSo(t *testing.T) {
	refused := errors.New("Error 1205: Lock wait timeout exceeded")
	isRefused := func(err error) bool { return errors.Is(err, refused) }
	d := Dialect{Refused: isRefused, Retryable: isRefused}
	w := scriptedWriter(t, d, func(ctx context.Context, query string) (driver.Rows, error) {
		if query == "lock_head" { // the server's answer to a lock wait, read as the time ends
			<-ctx.Done()
			return nil, refused
		}
		return nil, nil
	})
	err := answered(w, scriptedCall(heldTimer{context.Background(), time.Now().Add(100 * time.Millisecond)}))
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "was not free within the request's time") || strings.Contains(err.Error(), "begin:") {
		t.Errorf("an append whose group's lock was refused as its time ended: %v; "+
			"want an error wrapping the refusal that says the lock was not free within the request's time, with no try begun after", err)
	}
}

// TestAGroupWaitingForTheWriterLeaseEndsWhenItsCallersLeave: the wait for
// the node that holds the writer lease, like a group's reads, ends once
// every caller of the group has left (a stop cut short by a second
// signal): it went on to the group's time's end, 30 s for a caller
// without a deadline, holding the Append.
func TestAGroupWaitingForTheWriterLeaseEndsWhenItsCallersLeave(t *testing.T) {
	waiting := make(chan struct{})
	var once sync.Once
	d := Dialect{Leased: true, NotWriter: func(ctx context.Context) error {
		once.Do(func() { close(waiting) })
		<-ctx.Done()
		return ctx.Err()
	}}
	w := scriptedWriter(t, d, func(_ context.Context, query string) (driver.Rows, error) {
		if query == "lock_head" { // the lease is another node's
			return &scriptedRows{cols: []string{"position", "recorded_at", "leased"}, rows: [][]driver.Value{{int64(0), nil, false}}}, nil
		}
		return nil, nil
	})
	ctx, leave := context.WithCancel(context.Background()) // no deadline: the writer bounds it (30 s)
	defer leave()
	go func() {
		<-waiting
		leave()
	}()
	if err := answered(w, scriptedCall(ctx)); !errors.Is(err, context.Canceled) {
		t.Errorf("an append whose caller left while its group waited for the node that holds the writer lease: %v; want its caller's context.Canceled", err)
	}
}

// expiring is a caller's context whose time runs out when the test says:
// its Err is context.DeadlineExceeded once expired is set, whatever the
// clock says, and its Done never closes (no timer of its own fires).
type expiring struct {
	context.Context
	deadline time.Time
	expired  *atomic.Bool
}

func (c expiring) Deadline() (time.Time, bool) { return c.deadline, true }
func (c expiring) Err() error {
	if c.expired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// TestAnAppendWhoseTimeRunsOutWaitingOnARefusedLockSaysSo: the database
// refused a lock the group's reads need (MySQL's 1205: another session
// holds it), and the caller's time ran out in the writer's wait before the
// next try (under load, the wait overruns). The append said "context
// deadline exceeded before it could be written", which wraps no
// ErrUnavailable and hides the refusal. It says that the lock was not free.
func TestAnAppendWhoseTimeRunsOutWaitingOnARefusedLockSaysSo(t *testing.T) {
	refused := errors.New("Error 1205: Lock wait timeout exceeded")
	isRefused := func(err error) bool { return errors.Is(err, refused) }
	d := Dialect{Refused: isRefused, Retryable: isRefused}
	var expired atomic.Bool
	tries := 0
	w := scriptedWriter(t, d, func(_ context.Context, query string) (driver.Rows, error) {
		if query == "lock_head" {
			tries++
			expired.Store(true) // the caller's time runs out before the next try
			return nil, refused
		}
		return nil, nil
	})
	err := answered(w, scriptedCall(expiring{context.Background(), time.Now().Add(time.Hour), &expired}))
	if tries != 1 {
		t.Fatalf("the group was tried %d times; want one try, its caller's time over after it", tries)
	}
	if !errors.Is(err, refused) || !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "was not free within the request's time") {
		t.Errorf("an append whose time ran out in the wait after its group's lock was refused: %v; "+
			"want an error wrapping ErrUnavailable and the refusal that says the lock was not free within the request's time", err)
	}
}

// TestAnAppendWhoseTimeRanOutBeforeAnyTryKeepsItsContextsError: a caller
// whose time ran out before its group was tried is told so, its context's
// error, and nothing is sent.
func TestAnAppendWhoseTimeRanOutBeforeAnyTryKeepsItsContextsError(t *testing.T) {
	var expired atomic.Bool
	expired.Store(true)
	w := scriptedWriter(t, Dialect{}, func(context.Context, string) (driver.Rows, error) {
		return nil, errors.New("no statement should be sent")
	})
	err := answered(w, scriptedCall(expiring{context.Background(), time.Now().Add(time.Hour), &expired}))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "before it could be written") {
		t.Errorf("an append whose time ran out before its group was tried: %v; want its context's deadline exceeded, before it could be written", err)
	}
}

// TestACallerDroppedFromAGroupWhoseLockWasRefusedIsToldTheWritersWords:
// the database refused a lock the group's reads need (MySQL's 1205), and
// one caller's time ended before another wait while another's had time
// left: the writer went on without the first, who was told the driver's
// error as Translate makes it ("the database kept refusing the
// transaction", or, where Translate leaves it, no ErrUnavailable at all, a
// 500), not the writer's words that every other way out of the group
// gives. It is told that a lock it needs was not free within its time;
// the other is written.
func TestACallerDroppedFromAGroupWhoseLockWasRefusedIsToldTheWritersWords(t *testing.T) {
	refused := errors.New("Error 1205: Lock wait timeout exceeded")
	isRefused := func(err error) bool { return errors.Is(err, refused) }
	d := Dialect{Refused: isRefused, Retryable: isRefused, MaxInsertRows: 500, MaxInsertBytes: 1 << 20}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	shortDeadline, _ := short.Deadline()
	tries := 0
	w := scriptedWriter(t, d, func(_ context.Context, query string) (driver.Rows, error) {
		if query != "lock_head" {
			return nil, nil
		}
		if tries++; tries == 1 {
			// Refused when the short caller's time is nearly over: too
			// little for a wait and another try.
			time.Sleep(time.Until(shortDeadline) - time.Millisecond)
			return nil, refused
		}
		return &scriptedRows{cols: []string{"position", "recorded_at"}, rows: [][]driver.Value{{int64(0), nil}}}, nil
	})
	a, b := scriptedCall(short), scriptedCall(context.Background())
	w.commit([]*call{a, b}, nil)
	<-a.done
	<-b.done
	if b.err != nil {
		t.Fatalf("the caller with time left: %v; want it written on the next try", b.err)
	}
	if !errors.Is(a.err, refused) || !errors.Is(a.err, eventstore.ErrUnavailable) || !strings.Contains(a.err.Error(), "a lock this append needs was not free within the request's time") {
		t.Errorf("a caller dropped from its group, its time ending after the group's lock was refused: %v; "+
			"want an error wrapping ErrUnavailable and the refusal that says a lock this append needs was not free within the request's time", a.err)
	}
}

// TestAFailedBatchOfReadsNamesEveryStatementItMayBeFrom: where the reads
// go as one batch, the driver skips the empty results of the statements
// before the log's lock (the session's lock waits, BEGIN) and returns the
// first error: the writer labelled it "lock_head:" whichever failed, and
// a SET the server refused read as the log's lock. The label names the
// statements the error may be from, that one among them.
func TestAFailedBatchOfReadsNamesEveryStatementItMayBeFrom(t *testing.T) {
	unknown := errors.New("Error 1193: Unknown system variable 'innodb_lock_wait_timeout'")
	d := Dialect{Batch: true, WaitForLocks: func(time.Duration) string { return "wait_for_locks" }}
	w := scriptedWriter(t, d, func(_ context.Context, query string) (driver.Rows, error) {
		if strings.HasPrefix(query, "wait_for_locks; ") {
			return nil, unknown // the first statement of the batch fails: the server runs none after it
		}
		return nil, errors.New("not scripted: " + query)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := answered(w, scriptedCall(ctx))
	if !errors.Is(err, unknown) || !strings.Contains(err.Error(), "wait_for_locks, begin or lock_head: ") {
		t.Errorf("an append whose batch of reads failed in its first statement: %v; "+
			"want the error labelled with the statements it may be from, wait_for_locks, begin or lock_head", err)
	}
}

// TestABeginThatKeepsFindingTheWriteLockBusySaysSo: where BEGIN takes the
// log's write lock (SQLite's BEGIN IMMEDIATE), the database ends its own
// wait for it (SQLite's busy timeout, 10 s, shorter than a request's 30 s)
// with "database is locked": the writer tried again, and after its tries
// the append said only that, "begin: database is locked (SQLITE_BUSY)",
// though its time was not up and it was the write lock, held by another
// connection, that it kept waiting for. It says that the write lock was
// not free, another connection holding it.
func TestABeginThatKeepsFindingTheWriteLockBusySaysSo(t *testing.T) {
	busy := errors.New("database is locked (5) (SQLITE_BUSY)")
	isBusy := func(err error) bool { return errors.Is(err, busy) }
	tries := 0
	w := scriptedWriter(t, Dialect{BeginLocks: true, Retryable: isBusy}, func(_ context.Context, query string) (driver.Rows, error) {
		if query == "BEGIN" {
			tries++
			return nil, busy
		}
		return nil, errors.New("not scripted: " + query)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := answered(w, scriptedCall(ctx))
	if tries != maxTxAttempts {
		t.Errorf("BEGIN was tried %d times; want %d, a busy lock being worth another try", tries, maxTxAttempts)
	}
	if !errors.Is(err, busy) || !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "the write lock was not free") {
		t.Errorf("an append whose BEGIN kept finding the write lock busy: %v; "+
			"want an error wrapping ErrUnavailable and the database's answer that says the write lock was not free", err)
	}
}

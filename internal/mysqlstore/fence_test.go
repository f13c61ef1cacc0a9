package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestWaitDurableCommitsAWriteWhenTheBinaryLogIsOff checks the fence against
// the server the tests run on.
func TestWaitDurableCommitsAWriteWhenTheBinaryLogIsOff(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := teststore.OpenMySQL(t, mysqltest.NewDatabase(t))
	counter := fenceCommits(ctx, t, s)
	before := counter()
	if err := s.Tail().WaitDurable(ctx, 1); err != nil {
		t.Fatalf("WaitDurable: %v", err)
	}
	want := before
	if s.Fences() {
		want++
	}
	if got := counter(); got != want {
		t.Fatalf("binary log on=%v: fence counter went from %d to %d, want %d", !s.Fences(), before, got, want)
	}
}

// TestAnswersThatWriteNothingRestOnDurableCommits: with the binary log off,
// another process's commit is visible a moment before it is on disk. Reads,
// and appends that write nothing (a replay, a conflict), must not answer
// from it until it is durable, so they fence first; what is already known
// durable is not fenced again.
func TestAnswersThatWriteNothingRestOnDurableCommits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	a, other := teststore.OpenMySQL(t, dsn), teststore.OpenMySQL(t, dsn)
	if !a.Fences() {
		t.Skip("the binary log is on: commits are durable before they are visible")
	}
	counter := fenceCommits(ctx, t, a)
	appendOther := func(req eventstore.AppendRequest) eventstore.AppendResult {
		res, err := other.Append(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	fences := func(what string, want int64, fn func()) {
		t.Helper()
		before := counter()
		fn()
		if got := counter() - before; got != want {
			t.Errorf("%s: %d fence commits, want %d", what, got, want)
		}
	}
	stream := uuid.New()
	batch := []eventstore.NewEvent{{ID: uuid.New(), Type: "T", Data: []byte("{}")}}
	first := eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: batch}
	appendOther(first)
	fences("a log read of another process's fresh commit", 1, func() {
		page, err := a.ReadAll(ctx, eventstore.ReadAllOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, err := range page.Events {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
	fences("reading it again", 0, func() {
		if _, err := a.Stream(ctx, stream); err != nil {
			t.Fatal(err)
		}
	})
	appendOther(eventstore.AppendRequest{StreamID: stream, Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}})
	fences("a stream description of a fresh commit", 1, func() {
		if _, err := a.Stream(ctx, stream); err != nil {
			t.Fatal(err)
		}
	})
	appendOther(eventstore.AppendRequest{StreamID: stream, Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}})
	fences("a conflict answered from a fresh commit", 1, func() {
		_, err := a.Append(ctx, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(1), Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}})
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			t.Fatalf("append at a stale version: %v, want a wrong expected version", err)
		}
	})
	replayed := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "T", Data: []byte("{}")}}}
	appendOther(replayed)
	fences("a replay answered from a fresh commit", 1, func() {
		if res, err := a.Append(ctx, replayed); err != nil || !res.Duplicate {
			t.Fatalf("replay: %+v, %v; want the stored result", res, err)
		}
	})
	own := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}}
	fences("reading what this store wrote itself (its COMMIT made it durable)", 0, func() {
		res, err := a.Append(ctx, own)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Tail().WaitDurable(ctx, res.Events[0].Position); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Stream(ctx, own.StreamID); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWriterSessionsRunReadCommittedAndTakeStatementBatches: the append
// transaction relies on both (see dialect).
func TestWriterSessionsRunReadCommittedAndTakeStatementBatches(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	writes := teststore.OpenMySQL(t, mysqltest.NewDatabase(t)).WritesPool()
	var level string
	if err := writes.QueryRowContext(ctx, "SELECT @@tx_isolation").Scan(&level); err != nil {
		if err := writes.QueryRowContext(ctx, "SELECT @@transaction_isolation").Scan(&level); err != nil {
			t.Fatal(err)
		}
	}
	if level != "READ-COMMITTED" {
		t.Errorf("the writer's sessions run %s; want READ-COMMITTED", level)
	}
	rows, err := writes.QueryContext(ctx, "SELECT 1; SELECT 2")
	if err != nil {
		t.Fatalf("a two-statement query on the writer's pool: %v", err)
	}
	rows.Close()
}

// TestWaitDurableWaitsForTheWritersOwnCommitRatherThanFence: with the binary
// log off, the live feed, woken by one commit, often reads the next while
// its COMMIT is on its way; that COMMIT's return makes it durable. Where the
// writer's COMMIT on its way covers the position, WaitDurable waits for it
// rather than send a fence, whose flush would compete with the writer's; if
// it does not return in time (it may fail), it fences after all; a position
// past it is fenced at once.
func TestWaitDurableWaitsForTheWritersOwnCommitRatherThanFence(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := teststore.OpenMySQL(t, mysqltest.NewDatabase(t))
	if !s.Fences() {
		t.Skip("the binary log is on: commits are durable before they are visible")
	}
	const patience = 50 * time.Millisecond
	s.SetOwnCommitPatience(patience)
	counter := fenceCommits(ctx, t, s)
	before := counter()

	// The writer's COMMIT leaving the head at 3 is on its way: no fence,
	// and no answer until it returns.
	s.CommittingUpTo(3)
	done := make(chan error, 1)
	go func() { done <- s.Tail().WaitDurable(ctx, 2) }()
	select {
	case err := <-done:
		t.Fatalf("WaitDurable(2) returned (%v) while the COMMIT that makes it durable was on its way", err)
	case <-time.After(2 * time.Millisecond):
	}
	s.DurableUpTo(3)
	if err := <-done; err != nil {
		t.Fatalf("WaitDurable(2): %v", err)
	}
	if got := counter(); got != before {
		t.Fatalf("fence counter went from %d to %d while the writer's own COMMIT covered the position; want no fence", before, got)
	}

	// The COMMIT leaving the head at 5 never returns: a fence, once the
	// patience is out.
	s.CommittingUpTo(5)
	start := time.Now()
	if err := s.Tail().WaitDurable(ctx, 5); err != nil {
		t.Fatalf("WaitDurable(5): %v", err)
	}
	if took, got := time.Since(start), counter(); got != before+1 || took < patience {
		t.Fatalf("a COMMIT on its way that never returned: %d fences after %v; want 1, after %v", got-before, took, patience)
	}

	// Past any COMMIT on its way: a fence.
	if err := s.Tail().WaitDurable(ctx, 6); err != nil {
		t.Fatalf("WaitDurable(6): %v", err)
	}
	if got := counter(); got != before+2 {
		t.Fatalf("a position past the writer's COMMIT: %d fences in all; want 2", got-before)
	}
}

// TestWaitDurableDoesNotWaitForACommitThatNeverWent: the writer says which
// head a COMMIT on its way will leave, and WaitDurable for a position up to
// there waits for its return rather than fence. A group sent in one round
// trip from a snapshot that another process's append made stale stops
// before COMMIT: nothing of this store's is on its way then, and neither
// the writer, answering the group's conflict from the other process's
// fresh commit, nor a read of that process's next commits, may wait out
// the patience for it. The patience is 40 s here, so that such a wait
// cannot hide in a loaded machine's noise, nor the noise (a few seconds on
// a shared CI machine) pass for it: each must take under half of it.
func TestWaitDurableDoesNotWaitForACommitThatNeverWent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	a, other := teststore.OpenMySQL(t, dsn), teststore.OpenMySQL(t, dsn)
	if !a.Fences() {
		t.Skip("the binary log is on: commits are durable before they are visible")
	}
	const patience = 40 * time.Second // within the test's minute
	a.SetOwnCommitPatience(patience)
	events := func(n int) []eventstore.NewEvent {
		e := make([]eventstore.NewEvent, n)
		for i := range e {
			e[i] = eventstore.NewEvent{Type: "T", Data: []byte("{}")}
		}
		return e
	}
	stream := uuid.New()
	// a's own commit leaves a snapshot that knows the stream.
	mine, err := a.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: events(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: events(1)}); err != nil {
		t.Fatal(err)
	}
	// Planned from the snapshot, sent in one round trip, stopped by the
	// head's move; read afresh, refused, and answered once the other's
	// commit is durable.
	start := time.Now()
	_, err = a.Append(ctx, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.Exactly(mine.Version), Events: events(5)})
	if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("append at the version a's snapshot knows, after the other's append: %v; want a wrong expected version", err)
	}
	conflict := time.Since(start)

	res, err := other.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: events(3)})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := a.Tail().WaitDurable(ctx, res.Events[2].Position); err != nil {
		t.Fatalf("WaitDurable(%d): %v", res.Events[2].Position, err)
	}
	read := time.Since(start)
	if conflict >= patience/2 || read >= patience/2 {
		t.Fatalf("with no COMMIT of a's on its way, the conflict answer took %v and WaitDurable of the other's commits %v; "+
			"want each well under the %v a wait for a COMMIT on its way may take", conflict, read, patience)
	}
}

// fenceCommits returns what reads how many fence commits s's database has
// recorded.
func fenceCommits(ctx context.Context, t *testing.T, s *mysqlstore.Store) func() int64 {
	t.Helper()
	return func() int64 {
		t.Helper()
		n, err := s.FenceCommits(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestAFenceWritesEvenWhenItsRowWasDeleted: with the binary log off, a fence
// makes what it has seen durable only if its commit writes something, whose
// flush covers every earlier commit. An UPDATE of a durability_fence row
// that someone deleted (by hand, a restore of part of the schema) matches
// nothing and commits without writing or flushing: the fence would report
// durable what a crash can still take back.
func TestAFenceWritesEvenWhenItsRowWasDeleted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := teststore.OpenMySQL(t, mysqltest.NewDatabase(t))
	if !s.Fences() {
		t.Skip("the binary log is on: commits are durable before they are visible")
	}
	if _, err := s.WritesPool().ExecContext(ctx, "DELETE FROM durability_fence"); err != nil {
		t.Fatal(err)
	}
	if err := s.Tail().WaitDurable(ctx, 1); err != nil {
		return // refusing is as good as writing
	}
	if n, err := s.FenceCommits(ctx); err != nil || n < 1 {
		t.Fatalf("WaitDurable returned success with the fence's row deleted, and its commit wrote nothing (counter %d, %v): nothing was flushed", n, err)
	}
}

// TestARetryWhoseDurabilityCannotBeConfirmedSaysItIsStored: with the binary
// log off, a retry of a batch another process stored (same ids, same body)
// is answered once that commit is durable, and the fence that makes it so
// cannot commit in time (another session holds its row). The retry was told
// that the database could not write and that the append was not written,
// though its events are stored: a client without ids of its own would write
// them again. It says its outcome is unknown (its events stored, their
// durability not confirmed), as a lost COMMIT found committed but not
// durable does; an append refused on the same fresh commit wrote nothing,
// and says nothing of an unknown outcome.
func TestARetryWhoseDurabilityCannotBeConfirmedSaysItIsStored(t *testing.T) {
	ctx, dsn := guardedTest(t)
	a, other := teststore.OpenMySQL(t, dsn), teststore.OpenMySQL(t, dsn)
	if !a.Fences() {
		t.Skip("the binary log is on: commits are durable before they are visible, and no fence is written")
	}
	stream := uuid.New()
	batch := eventstore.AppendRequest{StreamID: stream, StreamType: "t", Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "T", Data: []byte("{}")}}}
	if _, err := other.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	holdRowLock(ctx, t, a, otherProcessDB(t, dsn), "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")

	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	res, err := a.Append(short, batch)
	if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("a retry of a stored batch whose durability could not be confirmed: %+v, %v; "+
			"want an error wrapping ErrUnavailable and ErrOutcomeUnknown (its events are stored), not one saying nothing was written", res, err)
	} else if !strings.Contains(err.Error(), "already stored") {
		t.Errorf("a retry of a stored batch whose durability could not be confirmed: %q; want it to say the batch is already stored", err)
	}

	short, cancel = context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = a.Append(short, eventstore.AppendRequest{StreamID: stream, Expected: eventstore.NoStream, Events: []eventstore.NewEvent{{Type: "T", Data: []byte("{}")}}})
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("an append refused on a commit whose durability could not be confirmed: %v; want an error wrapping ErrUnavailable, "+
			"not of unknown outcome (nothing of it was written)", err)
	}
}

// TestARetryInAGroupWhoseWritesFailIsAnsweredAsStored: a retry of a stored
// batch and another append go in one group, and the other's write fails
// with an error that makes the group unavailable (here an older schema's
// column that a new stream cannot fill: 1364). Nothing of the group was
// written, and the retry was told so, "this append was not written",
// though its batch was stored; a client without ids of its own would send
// it again. The retry is answered as stored (200) once what it read is
// known durable; the other append fails as before.
func TestARetryInAGroupWhoseWritesFailIsAnsweredAsStored(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	existing := uuid.New()
	appendVersions(ctx, t, s, existing, 1)
	retry := eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "T", Data: []byte("{}")}}}
	if _, err := s.Append(ctx, retry); err != nil {
		t.Fatal(err)
	}
	if _, err := otherProcessDB(t, dsn).ExecContext(ctx, "ALTER TABLE streams ADD COLUMN version BIGINT NOT NULL"); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var retried, made error
	var res eventstore.AppendResult
	_, first := appendsAsOneGroup(t, s, 2, func() error {
		switch n.Add(1) {
		case 1: // holds the writer while the other two queue behind it
			_, err := appendOne(ctx, s, existing, eventstore.Any)
			return err
		case 2:
			res, retried = s.Append(ctx, retry)
			return retried
		}
		_, made = appendOne(ctx, s, uuid.New(), eventstore.NoStream)
		return made
	})
	if first != nil {
		t.Fatalf("the append holding the writer: %v", first)
	}
	if !errors.Is(made, eventstore.ErrUnavailable) {
		t.Fatalf("the append making a stream that the schema refuses: %v; want it unavailable (the test did not reach its case)", made)
	}
	if retried != nil || !res.Duplicate {
		t.Errorf("a retry of a stored batch, in a group whose other append's write failed: %+v, %v; want the stored batch's answer", res, retried)
	}
}

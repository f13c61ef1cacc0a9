package mysqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A group's reads, which wait for the log's lock, end once every caller of
// the group has left (a stop cut short by a second signal cuts their
// connections): nothing is written and no COMMIT is on its way, and each
// Append, which waits for its group's outcome, would otherwise hold its
// handler until the wait ended (TestAnAppendWaitingForTheWriteLockEndsWhenItsCallersLeave).
// Two waits of a group did not: the reads of a group begun in the round
// trip that committed the group before it, and the wait of a group with
// nothing to write for the durability of what it read.

// TestAGroupWhoseReadsWereBegunByTheGroupBeforeEndsWhenItsCallersLeave: a
// group's reads, begun in the round trip that committed the group before
// it, wait for the log's lock, which a report took as that group
// committed. The caller leaves: its append went on waiting until the
// earlier group's deadline ended the round trip.
func TestAGroupWhoseReadsWereBegunByTheGroupBeforeEndsWhenItsCallersLeave(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)

	// The earlier group's deadline, which bounds the round trip that
	// begins the next group's reads.
	earlier, cancelEarlier := context.WithTimeout(ctx, 20*time.Second)
	defer cancelEarlier()
	release := holdFirstAppend(earlier, s)
	// The report queues for the log's lock, which the held append has:
	// it takes it as that append commits, before the next group's reads.
	report, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer report.Close()
	reportLocks := make(chan error, 1)
	go func() {
		if _, err := report.ExecContext(ctx, "START TRANSACTION"); err != nil {
			reportLocks <- err
			return
		}
		reportLocks <- report.QueryRowContext(ctx, "SELECT /* report */ position FROM log_head WHERE id = 1 FOR UPDATE").Scan(new(int64))
	}()
	defer report.ExecContext(context.Background(), "ROLLBACK") //nolint:errcheck // the test's end
	waitForStatement(ctx, t, db, "%/* report */%")

	leaving, leave := context.WithCancel(ctx) // no deadline: the store bounds it (30 s)
	defer leave()
	done := make(chan error, 1)
	go func() {
		_, err := appendOne(leaving, s, uuid.New(), eventstore.NoStream)
		done <- err
	}()
	waitQueued(ctx, t, s, 1) // queued behind the held append
	s.SetBeforeCommit(func() {})
	if err := release(); err != nil {
		t.Fatalf("the first append: %v", err)
	}
	if err := <-reportLocks; err != nil {
		t.Fatalf("the report's lock: %v", err)
	}
	waitForStatement(ctx, t, db, "%FROM log_head h%") // the next group's reads wait for the report's lock
	leave()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("an append whose caller left while its group's reads waited for the log's lock: %v; want its caller's context.Canceled", err)
		}
	case <-earlier.Done():
		t.Errorf("an append whose caller left while its group's reads, begun by the group before, waited for the log's lock: " +
			"still waiting when the earlier group's deadline ended them")
		<-done
	}
}

// TestAGroupWithNothingToWriteEndsItsDurabilityWaitWhenItsCallersLeave: a
// retry of a stored batch, alone in its group, which has nothing to write
// and waits until what it read is durable; another session holds the
// MySQL store's fence. The caller leaves: the wait went on to the group's
// time's end (30 s for a caller without a deadline), and its answer said
// so. It ends with the caller's leaving, and the retry is told its batch
// is stored, its durability not confirmed, never that it was not written.
func TestAGroupWithNothingToWriteEndsItsDurabilityWaitWhenItsCallersLeave(t *testing.T) {
	ctx, dsn := guardedTest(t)
	other, _ := openCounted(t, dsn) // another process, which stored the batch
	x, id := uuid.New(), uuid.New()
	if _, err := appendOne(ctx, other, x, eventstore.NoStream, id); err != nil {
		t.Fatal(err)
	}
	s, _ := openCounted(t, dsn)
	if !s.Fences() {
		t.Skip("the binary log is on: no fence is written")
	}
	db := otherProcessDB(t, dsn)
	lockRow(ctx, t, db, "SELECT counter FROM durability_fence WHERE id = 1 FOR UPDATE")

	leaving, leave := context.WithCancel(ctx) // no deadline: the store bounds it (30 s)
	defer leave()
	done := make(chan error, 1)
	go func() {
		_, err := appendOne(leaving, s, x, eventstore.NoStream, id)
		done <- err
	}()
	waitForStatement(ctx, t, db, "%INTO durability_fence%")
	leave()
	err := <-done
	if !errors.Is(err, context.Canceled) || !errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("a retry of a stored batch whose caller left while its group waited for the fence: %v; "+
			"want an error wrapping its caller's context.Canceled and ErrOutcomeUnknown (stored, not confirmed durable)", err)
	}
}

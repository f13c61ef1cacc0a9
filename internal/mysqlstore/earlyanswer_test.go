package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAnAppendRefusedEarlyInItsGroupIsAnsweredAtOnce: two appends to a
// stream a report holds locked go as one group, one with a second and a
// half to wait, the other with thirty. When the first one's time is nearly
// up, the writer answers it "refused" and goes on trying the group for the
// other. That answer reached its caller only when the whole group ended:
// here when the other's thirty seconds were up (for a Go caller without a
// deadline, thirty), its HTTP request held all that time. It is released
// as soon as it is given: the test ends the report only once the first
// append has returned, and the other, which has time left, is written.
func TestAnAppendRefusedEarlyInItsGroupIsAnsweredAtOnce(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	x := uuid.New()
	appendVersions(ctx, t, s, x, 2)

	release := holdFirstAppend(ctx, s)
	report := lockStream(ctx, t, db, x)

	short, long := make(chan error, 1), make(chan error, 1)
	for _, a := range []struct {
		wait time.Duration
		out  chan error
	}{{1500 * time.Millisecond, short}, {30 * time.Second, long}} {
		go func() {
			actx, cancel := context.WithTimeout(ctx, a.wait)
			defer cancel()
			_, err := appendOne(actx, s, x, eventstore.Any)
			a.out <- err
		}()
	}
	waitQueued(ctx, t, s, 2) // both queued behind the first, so one group
	s.SetBeforeCommit(func() {})
	if err := release(); err != nil {
		t.Fatalf("the first append: %v", err)
	}
	if err := <-short; !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("the append with 1.5 s to wait for a lock held until it returns: %v; want an error wrapping ErrUnavailable", err)
	}
	// Only now, the report ends: the group is still being tried for the
	// append with time left, unless the first one's answer waited for the
	// group's end.
	if err := report.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-long; err != nil {
		t.Errorf("the append with 30 s to wait, whose group answered the other as refused: %v; "+
			"want it written once the report ended (it ended once the other append had its answer)", err)
	}
}

// lockStream begins a report's transaction on db that holds stream's row
// locked (READ COMMITTED: that row only, no gap an INSERT would wait for).
func lockStream(ctx context.Context, t *testing.T, db *sql.DB, stream uuid.UUID) *sql.Tx {
	t.Helper()
	report, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { report.Rollback() }) //nolint:errcheck // it may be already
	var n int
	if err := report.QueryRowContext(ctx, "SELECT COUNT(*) FROM streams WHERE stream_id = ? FOR UPDATE", stream[:]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the report's read: %d streams, %v; want 1", n, err)
	}
	return report
}

// nearDeadline is a caller's context whose deadline is near and whose
// caller has not yet gone: the moment between the writer answering it
// "refused" (its time nearly up) and its timer firing, held open.
type nearDeadline struct {
	context.Context
	deadline time.Time
}

func (c nearDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

// TestAnAppendRefusedEarlyInItsGroupIsNotRunAgainAlone: an append answered
// "refused" as its time was nearly up goes out of its group, which is
// tried on for the other; that other's tries then fail with an error of
// its own (not the database's passing trouble: here a trigger refusing
// its event). The writer then ran each call of the group alone, the one
// already answered too: it was written, after its caller was told it was
// refused (and, before answers were released at once, its caller was told
// the second answer instead). Only calls still without an answer are run
// again.
func TestAnAppendRefusedEarlyInItsGroupIsNotRunAgainAlone(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	x := uuid.New()
	appendVersions(ctx, t, s, x, 2)
	if _, err := db.ExecContext(ctx, "CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW "+
		"IF NEW.event_type = 'Poison' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poison refused'; END IF"); err != nil {
		t.Fatal(err)
	}

	release := holdFirstAppend(ctx, s)
	report := lockStream(ctx, t, db, x)

	short, long := make(chan error, 1), make(chan error, 1)
	shortID := uuid.New()
	go func() {
		_, err := s.Append(nearDeadline{ctx, time.Now().Add(1500 * time.Millisecond)}, eventstore.AppendRequest{StreamID: x, StreamType: "thing",
			Expected: eventstore.Any, Events: []eventstore.NewEvent{{ID: shortID, Type: "Happened", Data: []byte(`{}`)}}})
		short <- err
	}()
	go func() {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := s.Append(actx, eventstore.AppendRequest{StreamID: x, StreamType: "thing", Expected: eventstore.Any,
			Events: []eventstore.NewEvent{{Type: "Poison", Data: []byte(`{}`)}}})
		long <- err
	}()
	waitQueued(ctx, t, s, 2) // both queued behind the first, so one group
	s.SetBeforeCommit(func() {})
	if err := release(); err != nil {
		t.Fatalf("the first append: %v", err)
	}
	shortErr := <-short
	if err := report.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-long; err == nil || errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("the append whose event the trigger refuses: %v; want the trigger's error, not unavailable", err)
	}
	if !errors.Is(shortErr, eventstore.ErrUnavailable) {
		t.Errorf("the append whose time was nearly up while the stream was locked: %v; want it refused (ErrUnavailable)", shortErr)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM events WHERE event_id = ?", shortID[:]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the append answered as refused was written (%d events): its group's failure ran it again alone", n)
	}
}

package mysqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestAnAppendIsNotCutShortByAnotherCallersDeadlineInItsGroup: two appends
// to a stream a report holds locked go as one group, one with a second and
// a half to wait, the other with thirty. The writer tries the group again
// while its callers wait; once the first caller's time was up, it stopped
// trying for the second too, which failed as unavailable with most of its
// time left though the lock was freed well within it. The second must be
// written once the report ends.
func TestAnAppendIsNotCutShortByAnotherCallersDeadlineInItsGroup(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	db := otherProcessDB(t, dsn)
	x := uuid.New()
	appendVersions(ctx, t, s, x, 2)

	// A first append held before its COMMIT, so that the two queue behind
	// it and go as one group.
	release := holdFirstAppend(ctx, s)

	// READ COMMITTED: the stream's rows only, no gap the first append's
	// INSERT would wait for.
	report, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		t.Fatal(err)
	}
	defer report.Rollback() //nolint:errcheck // the test's end
	var n int
	if err := report.QueryRowContext(ctx, "SELECT COUNT(*) FROM streams WHERE stream_id = ? FOR UPDATE", x[:]).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the report's read: %d streams, %v; want 1", n, err)
	}

	type result struct {
		err  error
		took time.Duration
	}
	start := time.Now()
	short, long := make(chan result, 1), make(chan result, 1)
	shortCtx, cancelShort := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancelShort()
	longCtx, cancelLong := context.WithTimeout(ctx, 30*time.Second)
	defer cancelLong()
	for _, a := range []struct {
		ctx context.Context
		out chan result
	}{{shortCtx, short}, {longCtx, long}} {
		go func() {
			_, err := appendOne(a.ctx, s, x, eventstore.Any)
			a.out <- result{err, time.Since(start)}
		}()
	}
	waitQueued(ctx, t, s, 2) // both queued behind the first, so one group
	s.SetBeforeCommit(func() {})
	if err := release(); err != nil {
		t.Fatalf("the first append: %v", err)
	}
	// The report ends once the short append's time is up, well within the
	// long's: seen, not slept for (a sleep to a fixed time could end it
	// first on a loaded machine).
	<-shortCtx.Done()
	if err := report.Rollback(); err != nil {
		t.Fatal(err)
	}
	if r := <-short; !errors.Is(r.err, eventstore.ErrUnavailable) {
		t.Errorf("the append with 1.5 s to wait for a lock held past its time: expected an error wrapping ErrUnavailable, got %v after %v", r.err, r.took)
	}
	if r := <-long; r.err != nil {
		t.Errorf("the append with 30 s to wait for a lock held past the other's 1.5 s, grouped with it: failed after %v: %v; expected it written once the lock was free", r.took.Round(time.Millisecond), r.err)
	}
}

// holdFirstAppend starts an append on s and holds it before its COMMIT
// (SetBeforeCommit), so that appends made meanwhile queue behind it and go
// as one group; release lets it commit and returns its error.
func holdFirstAppend(ctx context.Context, s *mysqlstore.Store) (release func() error) {
	hold, held := make(chan struct{}), make(chan struct{})
	var holding bool
	s.SetBeforeCommit(func() {
		if !holding {
			holding = true
			close(held)
			<-hold
		}
	})
	firstDone := make(chan error, 1)
	go func() {
		_, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream)
		firstDone <- err
	}()
	<-held
	return func() error {
		close(hold)
		return <-firstDone
	}
}

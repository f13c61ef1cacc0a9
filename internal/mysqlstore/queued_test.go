package mysqlstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestQueuedCountsTheAppendsWaitingForTheWriterAndThoseItTook: the tests
// that need appends to go as one group wait on the writer's count of them
// (Queued), which once looked for function names in the goroutines' stacks
// and would have waited in vain, or not at all, after a rename. The count
// must be exact: an append held in its group before COMMIT is taken, not
// waiting; those behind it wait; once all are answered, none is counted.
func TestQueuedCountsTheAppendsWaitingForTheWriterAndThoseItTook(t *testing.T) {
	ctx, dsn := guardedTest(t)
	s, _ := openCounted(t, dsn)
	held, hold := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.SetBeforeCommit(func() { once.Do(func() { close(held); <-hold }) })
	appendNew := func() error {
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: "happened", Data: []byte(`{}`)}}})
		return err
	}
	const behind = 3
	errs := make(chan error, behind+1)
	go func() { errs <- appendNew() }()
	<-held
	waitTaken(ctx, t, s, 1) // (its goroutine counts it once its hand-over returns)
	if waiting, taken := s.Queued(); waiting != 0 || taken != 1 {
		t.Errorf("with one append held before its COMMIT: Queued() = %d waiting, %d taken; want 0 and 1", waiting, taken)
	}
	for range behind {
		go func() { errs <- appendNew() }()
	}
	waitQueued(ctx, t, s, behind)
	if waiting, taken := s.Queued(); waiting != behind || taken != 1 {
		t.Errorf("with %d appends behind the held one: Queued() = %d waiting, %d taken; want %d and 1", behind, waiting, taken, behind)
	}
	close(hold)
	for range behind + 1 {
		if err := <-errs; err != nil {
			t.Errorf("append: %v", err)
		}
	}
	if waiting, taken := s.Queued(); waiting != 0 || taken != 0 {
		t.Errorf("once every append was answered: Queued() = %d waiting, %d taken; want none", waiting, taken)
	}
}

// waitQueued waits until n appends to s wait for its writer to take them
// (the writer busy with the group before, held by a hook): then they go as
// the next group, in the order they came. A sleep let them queue under a
// light load only; a test that released the writer before they had got
// there ran them in other groups than it meant to, and failed at random.
// The writer counts them (Queued); ctx's end, a safety bound, ends a wait
// that never comes.
func waitQueued(ctx context.Context, t *testing.T, s *mysqlstore.Store, n int) {
	t.Helper()
	if err := awaitQueued(ctx, s, n); err != nil {
		t.Fatal(err)
	}
}

// waitTaken waits until n appends to s have been taken by its writer
// (handed over, their answer not yet given): in a group it runs now, so
// that appends made after them go in a later one.
func waitTaken(ctx context.Context, t *testing.T, s *mysqlstore.Store, n int) {
	t.Helper()
	if err := awaitCount(ctx, "were taken by the writer", n, func() int { _, taken := s.Queued(); return taken }); err != nil {
		t.Fatal(err)
	}
}

// awaitQueued is waitQueued for a goroutine other than the test's (a hook
// the writer runs): it returns what failed rather than end the test.
func awaitQueued(ctx context.Context, s *mysqlstore.Store, n int) error {
	return awaitCount(ctx, "wait for the writer to take them", n, func() int { waiting, _ := s.Queued(); return waiting })
}

// awaitCount waits until count reaches n, or ctx ends (an error then says
// that fewer appends than n did what).
func awaitCount(ctx context.Context, what string, n int, count func() int) error {
	for {
		got := count()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d appends %s; want %d before the test goes on (%w)", got, what, n, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

package mysqlstore

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAFenceWaitEndedByItsContextWrapsContextCanceled: a wait for
// durability that ends while another fence commits (the store writes one
// at a time) returned its context's cause alone. A cause of the writer's
// own (every caller of a group left) then hid the callers' context.Canceled,
// which their answers are to wrap, and whether the error had it depended on
// where the wait was when they left: a flake in CI
// (TestAGroupWithNothingToWriteEndsItsDurabilityWaitWhenItsCallersLeave).
// The error wraps both, as the fence's own statement's does.
func TestAFenceWaitEndedByItsContextWrapsContextCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, mysqltest.NewDatabase(t), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.fence.Load() {
		t.Skip("the binary log is on: no fence is written")
	}
	s.fencing <- struct{}{} // another fence commits
	defer func() { <-s.fencing }()
	left := errors.New("every caller left")
	for _, bounded := range []bool{false, true} {
		wctx, stop := context.WithCancelCause(ctx)
		if !bounded {
			wctx, stop = context.WithCancelCause(context.Background())
		}
		stop(left)
		err := s.waitDurable(wctx, s.durable.Load()+1)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, left) {
			t.Errorf("a wait for durability (its context with a deadline: %t) ended by its context while another fence committed: %v; want it to wrap context.Canceled and the context's cause", bounded, err)
		}
	}
}

package sqlstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// firstTimer is a caller's context whose deadline's timer fires before the
// group's, set for the same instant: the order two timers of one instant
// fire in, made certain.
type firstTimer struct {
	context.Context
	deadline time.Time
	done     chan struct{}
	once     sync.Once
}

func (c *firstTimer) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *firstTimer) Done() <-chan struct{}       { return c.done }
func (c *firstTimer) fire()                       { c.once.Do(func() { close(c.done) }) }
func (c *firstTimer) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestACallerWhoseTimeEndsWithTheGroupsHasNotLeftIt: a group's transaction
// ends by its callers' earliest deadline. A caller whose deadline is that
// one was said to have left it when its own timer fired first: the
// append was then answered "context deadline exceeded before it could be
// written", not that the database did not answer in time (an append to a
// stalled database, failing one CI run in several). A caller whose time
// ends with the group's, or after, has not left: the group's own deadline
// ends the reads.
func TestACallerWhoseTimeEndsWithTheGroupsHasNotLeftIt(t *testing.T) {
	deadline := time.Now().Add(200 * time.Millisecond)
	caller := &firstTimer{Context: context.Background(), deadline: deadline, done: make(chan struct{})}
	group, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	ctx, stop := whileCalled(group, []*call{{ctx: caller}})
	defer stop()
	caller.fire()
	<-ctx.Done()
	if cause := context.Cause(ctx); !errors.Is(cause, context.DeadlineExceeded) {
		t.Fatalf("the group's reads ended with cause %v; want the group's deadline, not that its caller left", cause)
	}
}

// TestACallerWhoCancelsHasLeftTheGroup: the other side of the above: a
// caller who gives up before the group's deadline has left it.
func TestACallerWhoCancelsHasLeftTheGroup(t *testing.T) {
	caller, cancelCaller := context.WithCancel(context.Background())
	group, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx, stop := whileCalled(group, []*call{{ctx: caller}})
	defer stop()
	cancelCaller()
	<-ctx.Done()
	if cause := context.Cause(ctx); cause != errCallerLeft {
		t.Fatalf("the group's reads ended with cause %v; want errCallerLeft", cause)
	}
}

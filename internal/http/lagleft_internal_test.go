package http

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// stalledReplica is a read replica whose lag read never answers: it waits
// for its context, and closes ended once that context ends.
type stalledReplica struct {
	began atomic.Int64
	ctx   atomic.Pointer[context.Context] // the read's
	ended chan struct{}
}

func (r *stalledReplica) ReplicaLag(ctx context.Context) (eventstore.ReplicaLag, error) {
	r.ctx.Store(&ctx)
	r.began.Add(1)
	<-ctx.Done()
	close(r.ended)
	return eventstore.ReplicaLag{}, ctx.Err()
}

func (r *stalledReplica) PrimaryStreamVersion(context.Context, uuid.UUID) (int64, error) {
	return 0, nil
}

// TestASharedLagReadEndsWhenItsLastWaiterLeaves: the requests waiting for
// the read replica share one read of its lag, bounded by the request
// timeout and not by the context of the request that began it, so that one
// leaving does not fail the others. Once every one had left, the read went
// on to the request timeout, holding its sessions (three on the primary's
// small pool) on a replica or primary that did not answer. It is cancelled
// as the last waiter leaves, and not before.
func TestASharedLagReadEndsWhenItsLastWaiterLeaves(t *testing.T) {
	t.Parallel()
	replica := &stalledReplica{ended: make(chan struct{})}
	s := New(nil, Options{Replica: replica, RequestTimeout: time.Hour})
	first, leaveFirst := context.WithCancel(context.Background())
	second, leaveSecond := context.WithCancel(context.Background())
	defer leaveSecond()
	left := make(chan error, 2)
	go func() { _, err := s.replicaLag(first, time.Time{}); left <- err }()
	for replica.began.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	s.lag.Lock()
	for s.lag.last.waiters != 1 {
		s.lag.Unlock()
		time.Sleep(time.Millisecond)
		s.lag.Lock()
	}
	s.lag.Unlock()
	// The second joins the first's read.
	go func() { _, err := s.replicaLag(second, time.Time{}); left <- err }()
	s.lag.Lock()
	for s.lag.last.waiters != 2 {
		s.lag.Unlock()
		time.Sleep(time.Millisecond)
		s.lag.Lock()
	}
	s.lag.Unlock()
	leaveFirst()
	<-left
	if err := (*replica.ctx.Load()).Err(); err != nil {
		t.Fatalf("the shared lag read's context ended (%v) as one of its two waiters left; want it kept for the other", err)
	}
	leaveSecond()
	<-left
	select {
	case <-replica.ended:
	case <-time.After(time.Minute): // a hang's, far short of the hour's request timeout
		t.Fatal("the shared lag read went on after its last waiter left; want it cancelled then")
	}
	if n := replica.began.Load(); n != 1 {
		t.Errorf("two requests waiting at once began %d lag reads; want one, shared", n)
	}
}

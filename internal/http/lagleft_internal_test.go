package http

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
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

func (r *stalledReplica) HasPosition(context.Context, int64) error { return nil }

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

// answeringReplica answers a lag read after a moment of up to 2 ms, or
// ends with its context.
type answeringReplica struct{}

func (answeringReplica) ReplicaLag(ctx context.Context) (eventstore.ReplicaLag, error) {
	select {
	case <-time.After(time.Duration(rand.IntN(2000)) * time.Microsecond):
		return eventstore.ReplicaLag{}, nil
	case <-ctx.Done():
		return eventstore.ReplicaLag{}, ctx.Err()
	}
}

func (answeringReplica) PrimaryStreamVersion(context.Context, uuid.UUID) (int64, error) {
	return 0, nil
}

func (answeringReplica) HasPosition(context.Context, int64) error { return nil }

// TestRequestsJoiningAndLeavingASharedLagReadAreNeverHandedACancelledOne:
// many requests join the shared read of the replica's lag and leave it
// (their contexts ended at random) at once: a request that joins as the
// last one leaves gets a fresh read, never the one that leaver cancelled,
// and the count of waiters ends at none. (Run with -race.)
func TestRequestsJoiningAndLeavingASharedLagReadAreNeverHandedACancelledOne(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{Replica: answeringReplica{}, RequestTimeout: time.Hour})
	var handed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 200 {
				ctx, cancel := context.WithCancel(context.Background())
				if rand.IntN(2) == 0 {
					time.AfterFunc(time.Duration(rand.IntN(2000))*time.Microsecond, cancel)
				}
				_, err := s.replicaLag(ctx, time.Now().Add(-time.Duration(rand.IntN(3))*time.Millisecond))
				if errors.Is(err, context.Canceled) && ctx.Err() == nil {
					handed.Add(1)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	if n := handed.Load(); n > 0 {
		t.Errorf("%d requests whose own context had not ended were handed a shared lag read cancelled by the last to leave it; want a fresh read each", n)
	}
	s.lag.Lock()
	defer s.lag.Unlock()
	if r := s.lag.last; r != nil && r.waiters != 0 {
		t.Errorf("the last lag read counts %d waiters once every request has returned; want 0", r.waiters)
	}
}

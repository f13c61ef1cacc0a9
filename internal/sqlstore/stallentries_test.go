package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// TestReadsLeaveNothingInTheStallWatchAndEachGetsItsOwnAnswer: each read
// statement on MySQL is registered in the stall watch under a number
// (watch), and, where a stall cut it, its refusal kept under that number
// until the read takes it (unwatch). A thousand reads of every kind, from
// eight goroutines (found, not found, a caller's context ended before and
// while the read runs), then reads going on while a stall begins and ends:
// each is answered with its own outcome (its answer, not found, its
// caller's cancellation, or the stall's refusal while one is on) and, all
// returned, the watch holds no entry. MySQL's alone: the embedded store
// has no stall watch.
func TestReadsLeaveNothingInTheStallWatchAndEachGetsItsOwnAnswer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, proxy, stream := streamBehindProxy(ctx, t)
	missing := uuid.New()
	reads := []struct {
		what string
		read func(context.Context) error
		want error // besides nil: the answer it must give
	}{
		{"a stream", func(ctx context.Context) error { _, err := s.Stream(ctx, stream); return err }, nil},
		{"a stream not there", func(ctx context.Context) error { _, err := s.Stream(ctx, missing); return err }, eventstore.ErrStreamNotFound},
		{"an event", func(ctx context.Context) error { _, err := s.Event(ctx, stream, 1); return err }, nil},
		{"an event not there", func(ctx context.Context) error { _, err := s.Event(ctx, stream, 9); return err }, eventstore.ErrEventNotFound},
		{"an event's position", func(ctx context.Context) error { _, err := s.EventPosition(ctx, stream, 1); return err }, nil},
		{"a page of the log", func(ctx context.Context) error {
			page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
			if err == nil {
				for _, err = range page.Events {
					if err != nil {
						break
					}
				}
			}
			return err
		}, nil},
		{"the streams", func(ctx context.Context) error {
			_, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{})
			return err
		}, nil},
		{"the head", func(ctx context.Context) error { _, err := s.Head(ctx); return err }, nil},
	}
	// run sends read n under a context of its caller's, ended before it
	// for every fifth and while it runs for every seventh, and fails t
	// unless it is answered as it should be.
	var stallsSeen atomic.Int64
	run := func(n int, stalling bool) {
		r := reads[n%len(reads)]
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		cancelled := n%5 == 0
		if cancelled {
			rcancel()
		}
		if n%7 == 0 {
			cancelled = true
			go rcancel()
		}
		err := r.read(rctx)
		switch {
		case err == nil && (r.want == nil || cancelled):
		case r.want != nil && errors.Is(err, r.want):
		case cancelled && errors.Is(err, context.Canceled):
		case stalling && sqlstore.IsStall(err) && errors.Is(err, eventstore.ErrUnavailable):
			stallsSeen.Add(1)
		default:
			t.Errorf("read %d, %s (its context cancelled: %t, a stall may be on: %t): %v; want %v", n, r.what, cancelled, stalling, err, r.want)
		}
	}

	const goroutines, each = 8, 125
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				run(g*each+i, false)
			}
		}()
	}
	wg.Wait()
	if n := sqlstore.StallWatchEntries(s); n != 0 {
		t.Errorf("after %d reads: %d entries left in the stall watch; want none", goroutines*each, n)
	}

	// Reads going on as a stall begins and ends.
	stop := make(chan struct{})
	var sent atomic.Int64
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				run(g*1_000_000+i, true)
			}
		}()
	}
	waitUntil(t, "reads under way", func() bool { return sent.Load() > 2*goroutines })
	proxy.Stall()
	sqlstore.SetStallBound(s, 100*time.Millisecond)
	waitUntil(t, "the stall to begin", func() bool { return sqlstore.Stalled(s) })
	waitUntil(t, "reads refused by the stall", func() bool { return stallsSeen.Load() > goroutines })
	sqlstore.SetStallBound(s, time.Hour)
	resumeAndReadAgain(ctx, t, s, proxy, stream)
	close(stop)
	wg.Wait()
	if n := sqlstore.StallWatchEntries(s); n != 0 {
		t.Errorf("after reads through a stall (%d refused or cut by it): %d entries left in the stall watch; want none", stallsSeen.Load(), n)
	}
}

package http

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// pingCounting is a store that counts its pings, holds them while gate is
// set, and fails them while fail is set.
type pingCounting struct {
	eventstore.Store
	pings atomic.Int64
	gate  atomic.Pointer[chan struct{}]
	fail  atomic.Bool
}

func (s *pingCounting) Ping(ctx context.Context) error {
	s.pings.Add(1)
	if g := s.gate.Load(); g != nil {
		<-*g
	}
	if s.fail.Load() {
		return fmt.Errorf("ping: %w", eventstore.ErrUnavailable)
	}
	return s.Store.Ping(ctx)
}

// TestReadyzSharesOneCheckOfTheDatabaseAndBoundsHowOften: /readyz, which
// needs no token, ran the store's whole ping (about five statements on
// MySQL, one on information_schema) for every call, and nothing shared a
// check between calls at once: anyone who could reach the port drove the
// database at their request rate (the attacker's F4). Calls at once now
// share the check under way, and at most readyzChecksPerSecond begin in a
// second: a call past that waits for the next, which every call waiting
// shares, and is never answered from a check that ended before it came
// (the store failing meanwhile is said at once). On both stores, on a
// clock the test drives: no time is waited.
func TestReadyzSharesOneCheckOfTheDatabaseAndBoundsHowOften(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &pingCounting{Store: k.Open(t)}
		s := New(store, Options{})
		var mu sync.Mutex
		now := time.Now()
		release := make(chan time.Time)
		var waiting atomic.Int64
		s.ready.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		s.ready.after = func(time.Duration) (<-chan time.Time, func() bool) {
			mu.Lock()
			defer mu.Unlock()
			waiting.Add(1)
			return release, func() bool { return true }
		}
		// aSecondLater moves the clock on a second and lets every call
		// waiting for a check go on.
		aSecondLater := func() {
			mu.Lock()
			defer mu.Unlock()
			now = now.Add(time.Second)
			close(release)
			release = make(chan time.Time)
		}
		probe := func(what string, want int) {
			t.Helper()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != want {
				t.Errorf("%s: /readyz answered %d %s; want %d", what, rec.Code, rec.Body, want)
			}
		}
		pings := func(what string, want int64) {
			t.Helper()
			if got := store.pings.Load(); got != want {
				t.Fatalf("%s: %d pings of the store; want %d", what, got, want)
			}
		}
		waitFor := func(what string, cond func() bool) {
			t.Helper()
			for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not so after 30 s", what)
				}
			}
		}
		joined := func() int {
			s.ready.mu.Lock()
			defer s.ready.mu.Unlock()
			if s.ready.last == nil {
				return 0
			}
			return s.ready.last.joined
		}
		gate := make(chan struct{})
		open := sync.OnceFunc(func() { close(gate) })
		t.Cleanup(open) // a failure below leaves no probe waiting
		t.Cleanup(func() { mu.Lock(); close(release); mu.Unlock() })

		for i := range readyzChecksPerSecond {
			probe(fmt.Sprintf("probe %d within a second", i+1), http.StatusOK)
		}
		pings("probes one after another, as many as begin in a second", readyzChecksPerSecond)
		if n := waiting.Load(); n != 0 {
			t.Fatalf("%d probes waited within the bound; want none", n)
		}

		// Past the bound, calls at once wait, and share the next check.
		store.gate.Store(&gate)
		const calls = 20
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() { probe("a probe among many past the bound", http.StatusOK) })
		}
		waitFor(fmt.Sprintf("%d probes past the bound waiting", calls), func() bool { return waiting.Load() == calls })
		pings("probes past the bound, waiting", readyzChecksPerSecond)
		aSecondLater()
		waitFor(fmt.Sprintf("%d probes sharing the next check", calls), func() bool { return joined() == calls })
		open()
		wg.Wait()
		pings(fmt.Sprintf("%d probes at once past the bound", calls), readyzChecksPerSecond+1)

		// Past the bound again, the store failing: the probe waits for a
		// check of its own, which says so, not for the last one's 200.
		for range readyzChecksPerSecond - 1 {
			probe("probes within the second", http.StatusOK)
		}
		store.fail.Store(true)
		waiting.Store(0)
		done := make(chan struct{})
		go func() {
			defer close(done)
			probe("a probe past the bound with the store failing", http.StatusServiceUnavailable)
		}()
		waitFor("the probe past the bound waiting", func() bool { return waiting.Load() == 1 })
		aSecondLater()
		<-done
		pings("a probe past the bound with the store failing", 2*readyzChecksPerSecond+1)
	})
}

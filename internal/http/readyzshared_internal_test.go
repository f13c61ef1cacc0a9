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

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// pingCounting is a store that counts its pings, holds them while gate is
// set, and fails them, and reads of a stream, while fail is set.
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

func (s *pingCounting) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if s.fail.Load() {
		return eventstore.Stream{}, fmt.Errorf("read stream %s: %w", id, eventstore.ErrUnavailable)
	}
	return s.Store.Stream(ctx, id)
}

// TestReadyzSharesOneCheckOfTheDatabaseAndBoundsHowOften: /readyz, which
// needs no token, ran the store's whole ping (about five statements on
// MySQL, one on information_schema) for every call, and nothing shared a
// check between calls at once: anyone who could reach the port drove the
// database at their request rate (the attacker's F4). Calls at once now
// share one check, and past readyzChecksPerSecond checks in a second a
// call is answered from the latest, begun within the second; but never a
// ready one from a check older than a store failure the server answered
// since. On both stores (a frozen clock: no time is waited).
func TestReadyzSharesOneCheckOfTheDatabaseAndBoundsHowOften(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &pingCounting{Store: k.Open(t)}
		s := New(store, Options{})
		var mu sync.Mutex
		now := time.Now()
		s.ready.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		later := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		probe := func(what string, want int) {
			t.Helper()
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != want {
				t.Fatalf("%s: /readyz answered %d %s; want %d", what, rec.Code, rec.Body, want)
			}
		}
		pings := func(what string, want int64) {
			t.Helper()
			if got := store.pings.Load(); got != want {
				t.Fatalf("%s: %d pings of the store; want %d", what, got, want)
			}
		}

		for i := range 3 * readyzChecksPerSecond {
			probe(fmt.Sprintf("probe %d within a second", i+1), http.StatusOK)
		}
		pings("a flood of probes within a second", readyzChecksPerSecond)
		later(time.Second)
		probe("a probe a second later", http.StatusOK)
		pings("a probe a second later", readyzChecksPerSecond+1)
		for range readyzChecksPerSecond {
			probe("a flood again", http.StatusOK)
		}
		pings("a flood again", 2*readyzChecksPerSecond)

		// The server answers a store failure: the next probe checks
		// afresh, however many checks this second had, and is not ready.
		store.fail.Store(true)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/streams/"+uuid.NewString(), nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("a read of a stream with the store failing: %d; want 503", rec.Code)
		}
		probe("a probe after a store failure was answered", http.StatusServiceUnavailable)
		pings("a probe after a store failure was answered", 2*readyzChecksPerSecond+1)
		store.fail.Store(false)

		// Calls at once share the check under way, whatever the count.
		later(time.Second)
		gate := make(chan struct{})
		open := sync.OnceFunc(func() { close(gate) })
		t.Cleanup(open) // a failure below leaves no probe waiting
		store.gate.Store(&gate)
		const calls = 20
		var wg sync.WaitGroup
		codes := make(chan int, calls)
		for range calls {
			wg.Go(func() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				codes <- rec.Code
			})
		}
		deadline := time.Now().Add(30 * time.Second)
		for joined := 0; joined < calls; {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d probes at once took the check under way; want every one", joined, calls)
			}
			s.ready.mu.Lock()
			if c := s.ready.last; c != nil {
				joined = c.joined
			}
			s.ready.mu.Unlock()
			time.Sleep(time.Millisecond)
		}
		open()
		wg.Wait()
		close(codes)
		for code := range codes {
			if code != http.StatusOK {
				t.Errorf("a probe among %d at once: %d; want 200", calls, code)
			}
		}
		pings(fmt.Sprintf("%d probes at once", calls), 2*readyzChecksPerSecond+2)
	})
}

package http

import (
	"log/slog"
	"runtime"
	"testing"
)

// TestLiveSubscribersLeaveHalfTheCPUs: however many live subscriptions a
// commit wakes, at most half the CPUs' worth take their turn at once (one
// on one or two), and half as many of those write at once, so that appends
// and the database find a CPU.
func TestLiveSubscribersLeaveHalfTheCPUs(t *testing.T) {
	for procs, want := range map[int]int{1: 1, 2: 1, 3: 1, 4: 2, 8: 4, 64: 32} {
		if got := turnsFor(procs); got != want {
			t.Errorf("turnsFor(%d) = %d; want %d", procs, got, want)
		}
	}
	s := New(nil, Options{Logger: slog.New(slog.DiscardHandler)})
	if turns, want := cap(s.turns), turnsFor(runtime.GOMAXPROCS(0)); turns != want || cap(s.deliveries) != max(1, want/2) {
		t.Errorf("New on %d CPUs: %d turns and %d deliveries; want %d and %d", runtime.GOMAXPROCS(0), turns, cap(s.deliveries), want, max(1, want/2))
	}
}

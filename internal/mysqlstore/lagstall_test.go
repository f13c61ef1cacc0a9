package mysqlstore

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// TestTheReplicasLagIsNotReadFromAStalledPrimary: the replica's lag reads
// the primary's log head. Each /metrics scrape read it with a fixed 2 s
// bound that knew nothing of the stall watch: while the primary answered
// nothing (a server stopped or hung), every scrape waited its 2 s on it,
// and once its pooled session was dropped, cut a new one in its handshake
// (counted against the server's max_connect_errors for the host). While
// the watch holds the primary stalled, the lag is not read there: the
// metric is NaN and the lag's error the watch's refusal, at once.
func TestTheReplicasLagIsNotReadFromAStalledPrimary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := openWithPrimaryHeldStalled(ctx, t, Options{})
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	if _, err := s.ReplicaLag(lctx); err == nil || !strings.Contains(err.Error(), "has not answered") {
		t.Errorf("the replica's lag while the primary is held stalled: %v; want the stall watch's refusal (\"has not answered\"), not a wait on the primary", err)
	}
	if m := s.lagForMetrics(); !math.IsNaN(m) {
		t.Errorf("the lag metric while the primary is held stalled: %v; want NaN", m)
	}
}

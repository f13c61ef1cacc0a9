package mysqlstore

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqltest"
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
	replicaDSN := mysqltest.NewDatabase(t)
	openMigrated(ctx, t, replicaDSN, Options{})
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary.CreateDatabase(t, "tributary")
	proxy := faultproxy.Start(t, fmt.Sprintf("127.0.0.1:%d", primary.Port))
	s := openMigrated(ctx, t, "root@tcp("+proxy.Addr()+")/tributary", Options{ReadDSN: replicaDSN})
	proxy.Stall()
	t.Cleanup(proxy.Resume) // before the store's Close (cleanups run last first)
	for s.Store.Stall() == nil {
		if ctx.Err() != nil {
			t.Fatal("the stall watch did not hold the primary stalled within two minutes of the proxy's stall")
		}
		time.Sleep(50 * time.Millisecond)
	}
	lctx, lcancel := context.WithTimeout(ctx, 10*time.Second)
	defer lcancel()
	if _, err := s.ReplicaLag(lctx); err == nil || !strings.Contains(err.Error(), "has not answered") {
		t.Errorf("the replica's lag while the primary is held stalled: %v; want the stall watch's refusal (\"has not answered\"), not a wait on the primary", err)
	}
	if m := s.lagForMetrics(); !math.IsNaN(m) {
		t.Errorf("the lag metric while the primary is held stalled: %v; want NaN", m)
	}
}

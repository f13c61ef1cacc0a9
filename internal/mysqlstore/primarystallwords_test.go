package mysqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStalledPrimaryWithReadsOnAReplicaSaysTheReadsGoOn: with the reads
// on a replica, the primary's stall watch refuses appends alone, and the
// reads go on there. Its WARN said, as with no replica, "appends not yet
// sent and reads, those under way too, are answered 503 at once": an
// operator paged by it looked for a read outage that was none. It now
// names the primary and says the reads go on, on the read replica; and
// they do.
func TestAStalledPrimaryWithReadsOnAReplicaSaysTheReadsGoOn(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var logs testlog.Buffer
	s := openWithPrimaryHeldStalled(ctx, t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}); err != nil {
		t.Errorf("a read on the replica while the primary is held stalled: %v; want it served", err)
	}
	var warn string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "does not answer") {
			warn = line
		}
	}
	if !strings.Contains(warn, "the primary does not answer") || strings.Contains(warn, "reads, those under way too") || !strings.Contains(warn, "reads go on, on the read replica") {
		t.Errorf("the stall's WARN with the reads on a replica: %q; want it to name the primary and say the reads go on, on the read replica", warn)
	}
}

// openWithPrimaryHeldStalled opens a store with opts whose primary is a
// private server behind a fault proxy and whose reads are on a replica (a
// database on the shared server), stalls the proxy, and returns once the
// stall watch holds the primary stalled (within ctx). The proxy resumes
// before the store closes.
func openWithPrimaryHeldStalled(ctx context.Context, t *testing.T, opts Options) *Store {
	t.Helper()
	replicaDSN := mysqltest.NewDatabase(t)
	openMigrated(ctx, t, replicaDSN, Options{})
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary.CreateDatabase(t, "tributary")
	proxy := faultproxy.Start(t, fmt.Sprintf("127.0.0.1:%d", primary.Port))
	opts.ReadDSN = replicaDSN
	s := openMigrated(ctx, t, "root@tcp("+proxy.Addr()+")/tributary", opts)
	proxy.Stall()
	t.Cleanup(proxy.Resume) // before the store's Close (cleanups run last first)
	for s.Store.Stall() == nil {
		if ctx.Err() != nil {
			t.Fatal("the stall watch did not hold the primary stalled within two minutes of the proxy's stall")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

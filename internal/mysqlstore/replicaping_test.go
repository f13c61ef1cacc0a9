package mysqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAPingOfAReplicaThatIsDownNamesTheReplica: with a read replica whose
// server is gone (connections refused), the store's Ping, which /readyz
// and the start's log say, failed with the driver's words alone ("dial
// tcp …: connection refused") wrapped as the database unavailable: an
// operator could not tell the replica's outage from the primary's, and
// the 503's detail said the database cannot be reached. It now names the
// read replica and its address, and is marked as the replica's
// (ReadReplica), as a read refused by the replica's stall watch is; so is
// its lag's error.
func TestAPingOfAReplicaThatIsDownNamesTheReplica(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	replica := mysqltest.NewServer(t)
	openMigrated(ctx, t, replica.CreateDatabase(t, "tributary"), Options{})
	s := openMigrated(ctx, t, primary, Options{ReadDSN: replica.DSN("tributary")})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping with both servers up: %v", err)
	}
	replica.Kill()
	var marked interface{ ReadReplica() bool }
	for what, err := range map[string]error{"Ping": s.Ping(ctx), "ReplicaLag": func() error { _, err := s.ReplicaLag(ctx); return err }()} {
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "read replica") || !strings.Contains(err.Error(), s.replica.Addr) ||
			!errors.As(err, &marked) || !marked.ReadReplica() {
			t.Errorf("%s with the read replica's server gone: %v; want an unavailable error naming the read replica at %s, marked as the replica's (ReadReplica)",
				what, err, s.replica.Addr)
		}
	}
}

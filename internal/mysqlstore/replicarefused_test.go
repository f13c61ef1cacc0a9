package mysqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAReplicaThatRefusesItsStatusReadsIsWarnedNotRefused: a read
// replica's checks at start-up read its settings (SHOW GLOBAL VARIABLES:
// its commit order) and its replication status (SHOW REPLICA STATUS), and
// only a missing privilege (1227) on the status was warned of; a proxy's
// query rule refusing either (ProxySQL answers 1148) failed every start,
// and the status's failed every /readyz. The settings are read with
// SELECT @@GLOBAL.… then, and the commit order still checked; the status
// refused is warned of once, as the privilege's, and the lag in positions
// still measured (seconds -1, not known to replicate). A fault proxy in
// front of the replica answers the refused reads with an error.
func TestAReplicaThatRefusesItsStatusReadsIsWarnedNotRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		refuses func(chunk []byte) bool
	}{
		{"SHOW GLOBAL VARIABLES", func(chunk []byte) bool { return bytes.Contains(chunk, []byte("SHOW GLOBAL VARIABLES")) }},
		{"SHOW REPLICA STATUS", func(chunk []byte) bool {
			return bytes.Contains(chunk, []byte("REPLICA STATUS")) || bytes.Contains(chunk, []byte("SLAVE STATUS")) || bytes.Contains(chunk, []byte("SLAVES STATUS"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
			migrated := openMigrated(ctx, t, dsn, Options{})
			cfg, err := mysql.ParseDSN(dsn)
			if err != nil {
				t.Fatal(err)
			}
			feed, err := sql.Open("mysql", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { feed.Close() })
			var refused atomic.Int64
			proxy.AnswerInstead(func(chunk []byte) bool {
				if !tc.refuses(chunk) {
					return false
				}
				refused.Add(1)
				return true
			}, mysqltest.ErrorPacket(1148, "The used command is not allowed (query rule)"))
			var logs testlog.Buffer
			s := &Store{log: slog.New(slog.NewTextHandler(&logs, nil)), replica: cfg, feed: feed, primary: migrated.primary}
			if err := s.checkReplica(ctx); err != nil {
				t.Fatalf("checkReplica on a replica that refuses %s: %v; want it to pass, warned of\n%s", tc.name, err, logs.String())
			}
			if refused.Load() == 0 {
				t.Fatalf("checkReplica never read what the proxy refuses (%s): the test did not reach its case", tc.name)
			}
			if tc.name == "SHOW GLOBAL VARIABLES" {
				// The commit order is still checked, on what @@GLOBAL says.
				vars, err := replicaVariables(ctx, feed)
				if err != nil || !strings.Contains(strings.ToLower(vars["version"]), "mariadb") || vars["slave_parallel_mode"] == "" {
					t.Errorf("the replica's settings read past a refused SHOW GLOBAL VARIABLES: %v, %v; want its version and slave_parallel_mode", vars, err)
				}
				return
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != 1 || !strings.Contains(logs.String(), "replication status") {
				t.Errorf("checkReplica on a replica that refuses %s logged %d WARN lines; want one saying its replication status is unknown\n%s", tc.name, n, logs.String())
			}
			lag, err := s.ReplicaLag(ctx)
			if err != nil || lag.Seconds != -1 || lag.Replicating {
				t.Errorf("ReplicaLag on a replica that refuses %s: %+v, %v; want the lag in positions, seconds -1, not known to replicate", tc.name, lag, err)
			}
		})
	}
}

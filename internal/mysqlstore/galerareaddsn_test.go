package mysqlstore

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestAReadDSNNamingAnotherNodeOfThePrimarysGaleraClusterIsRefused: the
// read DSN names an async replica of the primary. Given another node of
// the primary's own Galera cluster, start-up took it for a replica that
// replicates nothing (SHOW REPLICA STATUS is empty: "reads there see
// appends only if something else copies them"), and then refused it for
// the primary's binary log being off, "replication needs it on": an
// operator turned on a binary log no Galera node needs, and /readyz then
// said the node did not replicate. It is refused at start-up, saying that
// it is a node of the primary's cluster and what to do instead.
func TestAReadDSNNamingAnotherNodeOfThePrimarysGaleraClusterIsRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := startGaleraNodes(t, 2)
	primary := nodes[0].CreateDatabase(t, "readnode")
	s, err := Open(ctx, primary, Options{ReadDSN: nodes[1].DSN("readnode")})
	if err == nil {
		s.Close()
		t.Fatal("Open with a read DSN naming another node of the primary's Galera cluster succeeded, want it refused")
	}
	if msg := err.Error(); !strings.Contains(msg, "TRIBUTARY_MYSQL_READ_DSN") || !strings.Contains(msg, "Galera cluster") || strings.Contains(msg, "binary log") {
		t.Errorf("Open with a read DSN naming another node of the primary's Galera cluster: %v; "+
			"want it refused naming the read DSN and the Galera cluster, not the binary log", err)
	}
}

package mysqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
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
	// Galera applies the CREATE DATABASE on the other node a moment after
	// the first commits it: on a loaded machine the start found no
	// database there yet, and said that instead (an interim CI).
	waitForDatabase(t, nodes[1], "readnode")
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

// waitForDatabase waits until node has the database name (a Galera node
// applying what another committed).
func waitForDatabase(t *testing.T, node *mysqltest.Server, name string) {
	t.Helper()
	db, err := sql.Open("mysql", node.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := db.QueryRow("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&got)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database %s did not reach the other node within 90 s: %v", name, err)
		}
	}
}

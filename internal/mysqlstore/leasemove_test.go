package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAWriterLeaseThatCannotMoveIsLogged: the writer lease names a node
// that is no longer healthy (here one the list does not name at all), and
// the periodic check moves it to the first healthy node. Another session
// on that node holds the lease's row (an operator's transaction), so the
// move fails (error 1205 after its 1 s bound) at every check. The periodic
// check dropped that error: the lease stayed on the dead node, every append
// failed on it, and nothing in the log said why. The failure must be
// logged, once, not at every check. A Galera cluster of one node.
func TestAWriterLeaseThatCannotMoveIsLogged(t *testing.T) {
	t.Parallel()
	c, cfg, holder, logs := leaseHeldOnOneNode(t)
	t.Cleanup(c.close)
	c.start()
	// Each check fails after the move's 1 s bound; let a few go by.
	time.Sleep(5 * time.Second)
	if c.chosen() != "" {
		t.Fatalf("the lease moved to %s while another session held its row", c.chosen())
	}
	var failed int
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "writer lease") && strings.Contains(line, "1205") {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("the periodic check failed to move the writer lease at every check for 5 s: %d log lines say so with its error, want 1; the log:\n%s", failed, logs.String())
	}

	// Once the row is free, the lease moves to the node, and the log says so.
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); c.chosen() != cfg.Addr; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lease did not move within 10 s of its row's release; the log:\n%s", logs.String())
		}
	}
}

// TestAWriterLeaseThatKeepsFailingIsLoggedAgainAtABoundedRate: the lease
// cannot move (its row held, as in TestAWriterLeaseThatCannotMoveIsLogged)
// for longer than the repeat. It was logged once, when it began, and then
// nothing until it recovered, however long it lasted: a log read an hour
// later showed no trouble, appends failing all the while. It must be logged
// again at a bounded rate while it lasts (here every 3 s, a check failing
// every 2 s or so), each line saying how long it has lasted, and once when
// it recovers. A Galera cluster of one node.
func TestAWriterLeaseThatKeepsFailingIsLoggedAgainAtABoundedRate(t *testing.T) {
	t.Parallel()
	c, cfg, holder, logs := leaseHeldOnOneNode(t)
	c.leaseLogEvery = 3 * time.Second
	t.Cleanup(c.close)
	c.start()
	// Each check fails within about 2 s (the move's 1 s bound, or the
	// check's own): four or five in 9 s, of which two or three are logged.
	time.Sleep(9 * time.Second)
	var failed, lasting int
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "cannot read or move the writer lease") {
			failed++
			if strings.Contains(line, `"failing_for"`) {
				lasting++
			}
		}
	}
	if failed < 2 || failed > 3 || lasting != failed-1 {
		t.Errorf("the lease failing at every check for 9 s, logged again every 3 s at most: %d log lines say so, %d of them "+
			"how long it has lasted; want 2 or 3, all but the first saying how long; the log:\n%s", failed, lasting, logs.String())
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); c.chosen() != cfg.Addr; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lease did not move within 10 s of its row's release; the log:\n%s", logs.String())
		}
	}
	var recovered int
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "writer lease is read, or moved, again") {
			recovered++
		}
	}
	if recovered != 1 {
		t.Errorf("the lease moved once its row was free: %d log lines say it recovered, want 1; the log:\n%s", recovered, logs.String())
	}
}

// leaseHeldOnOneNode makes the writer lease of a Galera cluster of one node
// name a node that is gone, holds the lease's row in a transaction (holder,
// rolled back at the test's end), and returns a cluster of that node, not
// started, logging into logs.
func leaseHeldOnOneNode(t *testing.T) (c *cluster, cfg *mysql.Config, holder *sql.Tx, logs *testlog.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	node := startOneGaleraNode(t)
	dsn := node.CreateDatabase(t, "lease")
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		"CREATE TABLE writer_lease (id TINYINT UNSIGNED NOT NULL, node VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, " +
			"epoch BIGINT UNSIGNED NOT NULL, PRIMARY KEY (id)) ENGINE = InnoDB",
		"INSERT INTO writer_lease (id, node, epoch) VALUES (1, 'a-node-that-is-gone', 1)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	holder, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Rollback() }) //nolint:errcheck // the test's end
	if err := holder.QueryRowContext(ctx, "SELECT node FROM writer_lease WHERE id = 1 FOR UPDATE").Scan(new(string)); err != nil {
		t.Fatal(err)
	}
	cfg, err = parseDSN(dsn, primaryDSN)
	if err != nil {
		t.Fatal(err)
	}
	normalise(dsn, cfg)
	logs = &testlog.Buffer{}
	c, err = newCluster(cfg, []string{cfg.Addr}, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return c, cfg, holder, logs
}

// startOneGaleraNode starts a private mariadbd as the only node of a new
// Galera cluster, with its grant tables off (root without a password), and
// waits until it is synced. The test is skipped where Galera cannot run,
// except under CI=true.
func startOneGaleraNode(t *testing.T) *mysqltest.Server {
	t.Helper()
	const library = "/usr/lib/galera/libgalera_smm.so" // Debian's galera-4
	if _, err := os.Stat(library); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: Galera cannot run here: %v", err)
		}
		t.Skipf("Galera cannot run here: %v (apt-get install galera-4)", err)
	}
	dir, err := os.MkdirTemp("", "tributary-galera-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := freeport.Ports(t, 3)
	node := mysqltest.InitServer(t, dir, false,
		"--binlog-format=ROW", "--innodb-autoinc-lock-mode=2",
		"--wsrep-on=ON", "--wsrep-provider="+library, "--wsrep-cluster-name=tributary-lease",
		"--wsrep-cluster-address=gcomm://", "--wsrep-node-address=127.0.0.1", "--wsrep-new-cluster",
		fmt.Sprintf("--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:%d;ist.recv_addr=127.0.0.1:%d;gcache.size=16M", p[1], p[2]))
	node.Port = p[0]
	if err := node.TryStart(60 * time.Second); err != nil {
		t.Fatalf("start a Galera node: %v", err)
	}
	db, err := sql.Open("mysql", node.DSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var name, state string
		if err := db.QueryRow("SHOW GLOBAL STATUS LIKE 'wsrep_local_state'").Scan(&name, &state); err == nil && state == "4" {
			return node
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Galera node was not synced within 30 s (wsrep_local_state %q)\n%s", state, node.ErrorLog())
		}
	}
}

package mysqlstore

import (
	"context"
	"database/sql"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestADSNWithAListOfAddressesNamesEveryNodeWithItsPort(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dsn  string
		want []string // nil: an error
	}{
		{"root@tcp(127.0.0.1:3306)/db", []string{"127.0.0.1:3306"}},
		{"root@tcp(db1)/db", []string{"db1:3306"}},
		{"root@tcp(db1:3307,db2,db3:3309)/db?timeout=2s", []string{"db1:3307", "db2:3306", "db3:3309"}},
		{"u:p@ss,w(rd@tcp(10.0.0.1:3306, 10.0.0.2:3306)/tributary", []string{"10.0.0.1:3306", "10.0.0.2:3306"}},
		{"root@tcp([::1]:3306,[::2])/db", []string{"[::1]:3306", "[::2]:3306"}},
		{"root@tcp(db1,,db2)/db", nil},
		{"root@unix(/a,/b)/db", nil},
		{"root@/db", []string{"127.0.0.1:3306"}},
	}
	for _, tc := range cases {
		cfg, err := mysql.ParseDSN(tc.dsn)
		if err != nil {
			t.Fatalf("ParseDSN(%q): %v", tc.dsn, err)
		}
		got, err := splitAddrs(tc.dsn, cfg)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%s: expected an error, got %q", tc.dsn, got)
		case tc.want != nil && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("%s: expected %q, got %q (%v)", tc.dsn, tc.want, got, err)
		}
	}
}

// TestOpenOfAGaleraListThatFailsReturns: when no node of a list could be
// chosen at start-up (all down, or not Galera), Open closed the cluster's
// checks before they had started and waited for them to end, for ever:
// the binary hung after its "starting" line, past TRIBUTARY_STARTUP_TIMEOUT
// and deaf to SIGTERM (which the process catches). The same wait followed
// every failure of Open after the node was chosen. Open must return its
// error.
func TestOpenOfAGaleraListThatFailsReturns(t *testing.T) {
	t.Parallel()
	test, err := mysql.ParseDSN(mysqltest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, dsn := range []string{
		"root@tcp(127.0.0.1:1,127.0.0.1:2)/x",                            // nothing listens
		test.User + "@tcp(" + test.Addr + ",127.0.0.1:1)/" + test.DBName, // a server that is no Galera node
	} {
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := Open(ctx, dsn, Options{})
			if err == nil {
				s.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Open(%q): expected an error (no Galera node to write through), got none", dsn)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Open(%q) with a 5 s context had not returned after 20 s", dsn)
		}
	}
}

// TestTheGaleraProbesReadOnlyWhatHasCommitted: the probes of a Galera
// cluster's nodes read and move the writer lease. They were made from the
// DSN before Open forced READ COMMITTED on it, so that a DSN's (or a
// server's) READ UNCOMMITTED held there: a probe could read a lease
// another session had moved and not yet committed, and act on it; and a
// DSN naming the variable under a name the server does not know
// (transaction_isolation on MariaDB before 11.1) failed every probe's
// connection. Open (committedSessions) must force READ COMMITTED on them
// too. One server stands in for the cluster's one node: the probes'
// sessions are what is looked at.
func TestTheGaleraProbesReadOnlyWhatHasCommitted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cluster := func(param string) (*Store, *cluster) {
		dsn := mysqltest.NewDatabase(t) + "?" + param
		cfg, err := parseDSN(dsn, primaryDSN)
		if err != nil {
			t.Fatal(err)
		}
		normalise(dsn, cfg)
		addrs := []string{cfg.Addr}
		c, err := newCluster(cfg, addrs, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		c.writer.Store(0) // chosen, as choose would on a Galera node
		return &Store{cfg: cfg, addrs: addrs, galera: c}, c
	}
	isolation := func(db *sql.DB) (string, error) {
		var level string
		// Under either name: the one the server knows answers.
		err := db.QueryRowContext(ctx, "SELECT @@tx_isolation").Scan(&level)
		if err != nil {
			err = db.QueryRowContext(ctx, "SELECT @@transaction_isolation").Scan(&level)
		}
		return level, err
	}

	s, c := cluster("tx_isolation=%27READ-UNCOMMITTED%27")
	if _, err := s.committedSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if level, err := isolation(c.probes[0]); err != nil || level != "READ-COMMITTED" {
		t.Errorf("DSN with tx_isolation READ-UNCOMMITTED: a Galera probe's session runs %s (%v), want READ-COMMITTED", level, err)
	}

	// The first choice's probes, made before the name is known, connect
	// whatever the name the DSN gives.
	for _, param := range []string{"transaction_isolation=%27READ-UNCOMMITTED%27", "tx_isolation=%27READ-UNCOMMITTED%27"} {
		_, c := cluster(param)
		if _, err := isolation(c.probes[0]); err != nil {
			t.Errorf("DSN with %s: a Galera probe could not connect: %v", param, err)
		}
	}
}

// TestTheFirstGaleraProbesReadOnlyWhatHasCommitted: Open's first choice of
// a node is made with probes opened before it can learn the name of the
// isolation variable, which were made without the DSN's and so ran at the
// server's default isolation: on a server whose default is READ
// UNCOMMITTED, the first read of the writer lease saw a lease another
// session had written and not committed (and might roll back), and could
// follow, or move, it. Every probe's session must read only what has
// committed. A private server whose default is READ UNCOMMITTED stands in
// for the cluster's one node: the probes' sessions and their read of the
// lease are what is looked at.
func TestTheFirstGaleraProbesReadOnlyWhatHasCommitted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--transaction-isolation=READ-UNCOMMITTED")
	dsn := server.CreateDatabase(t, "probes")
	server.Exec(t, "CREATE TABLE probes.writer_lease (id TINYINT UNSIGNED NOT NULL, node VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, "+
		"epoch BIGINT UNSIGNED NOT NULL, PRIMARY KEY (id)) ENGINE = InnoDB")
	for _, param := range []string{"", "?tx_isolation=%27READ-UNCOMMITTED%27", "?transaction_isolation=%27READ-UNCOMMITTED%27"} {
		cfg, err := parseDSN(dsn+param, primaryDSN)
		if err != nil {
			t.Fatal(err)
		}
		normalise(dsn+param, cfg)
		c, err := newCluster(cfg, []string{cfg.Addr}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		var level string
		if err := c.probes[0].QueryRowContext(ctx, "SELECT @@tx_isolation").Scan(&level); err != nil || level != "READ-COMMITTED" {
			t.Errorf("DSN %q on a server whose default is READ UNCOMMITTED: a first Galera probe's session runs %s (%v), want READ-COMMITTED", param, level, err)
		}

		// Another session writes a lease and has not committed it.
		other, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		tx, err := other.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO writer_lease (id, node, epoch) VALUES (1, 'uncommitted', 7)"); err != nil {
			t.Fatal(err)
		}
		holder, epoch, err := c.lease(ctx, 0)
		tx.Rollback() //nolint:errcheck // it was never to be committed
		if err != nil || holder != "" {
			t.Errorf("DSN %q: a first Galera probe read the lease as %q at epoch %d (%v) while another session's lease was uncommitted; want no lease", param, holder, epoch, err)
		}
	}
}

// TestATimedOutMoveOfTheWriterLeaseLeavesNoSessionWaiting: a probe moves
// the writer lease with an UPDATE (or an INSERT) bounded by 2 s in Go, but
// every append transaction locks the lease's row, and a move that waits on
// a transaction that holds it went on waiting in the server after the
// driver closed the connection, for up to innodb_lock_wait_timeout (50 s
// by default), a session per check, one a second. Its wait must end by its
// bound. One server stands in for the cluster's one node.
func TestATimedOutMoveOfTheWriterLeaseLeavesNoSessionWaiting(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := mysqltest.NewDatabase(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var rowWait int
	if err := db.QueryRowContext(ctx, "SELECT @@innodb_lock_wait_timeout").Scan(&rowWait); err != nil || rowWait < 10 {
		t.Skipf("the server's innodb_lock_wait_timeout is %d (%v): a wait past the bound would not show", rowWait, err)
	}
	for _, q := range []string{
		"CREATE TABLE writer_lease (id TINYINT UNSIGNED NOT NULL, node VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, " +
			"epoch BIGINT UNSIGNED NOT NULL, PRIMARY KEY (id)) ENGINE = InnoDB",
		"INSERT INTO writer_lease (id, node, epoch) VALUES (1, 'old', 1)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := parseDSN(dsn, primaryDSN)
	if err != nil {
		t.Fatal(err)
	}
	normalise(dsn, cfg)
	c, err := newCluster(cfg, []string{cfg.Addr}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	// An append transaction's lock of the lease, held.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // the test's end
	if err := tx.QueryRowContext(ctx, "SELECT node FROM writer_lease WHERE id = 1 FOR UPDATE").Scan(new(string)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if moved, err := c.take(ctx, 0, "new", "old", 1); err == nil || moved {
		t.Fatalf("take while another transaction held the lease's row: moved %v, %v; want an error", moved, err)
	}
	failed := time.Since(start)
	for waiting := -1; waiting != 0; {
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.INNODB_TRX t "+
			"JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "+
			"WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		// 20 s: a session left waiting waits out innodb_lock_wait_timeout
		// (50 s); 3 s was within a loaded machine's noise.
		if waiting > 0 && time.Since(start) > failed+20*time.Second {
			t.Fatalf("%d sessions still wait on a lock 20 s after the lease's move failed (after %v), want none", waiting, failed.Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Once the row is free, the move goes.
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if moved, err := c.take(ctx, 0, "new", "old", 1); err != nil || !moved {
		t.Fatalf("take of a free lease: moved %v, %v; want it moved", moved, err)
	}
}

package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A DSN whose address is a list, tcp(db1:3306,db2:3306,db3:3306), names the
// nodes of one Galera cluster. The store writes through one node at a time,
// and so do all its pools (reads, writes, feed): the node that holds the
// cluster's writer lease, the writer_lease row, which names a node by its
// wsrep_gcomm_uuid. Every instance of the service follows the lease, so they
// all write through the same node, whatever the order of their lists.
//
// Writing through two nodes at once is not safe on Galera: SELECT … FOR
// UPDATE locks rows on its own node only, and with two writer nodes the
// tests (and Jepsen's 2026 analysis) saw acknowledged commits lost. So every
// append transaction locks the lease row with log_head and goes on only if
// the lease names the node it runs on (sqlstore.Dialect.Leased). The lease
// moves only when an instance finds the node it names not healthy (not in
// the Primary component, not ready, not synced, or unreachable): it writes
// the first healthy node of its list into the lease, through that node; a
// write of the lease is certified like any other, so two instances moving
// it at once cannot both succeed. A transaction still running on the old
// node either holds the lease row's lock, and then the new lease's writeset
// aborts it when applied there, or reads the new lease (the writer's
// sessions wait for causality, wsrep_sync_wait=1) and stops. The lease never
// moves back by itself when a node returns.
//
// The choice is checked every checkInterval and at once when a connection to
// the chosen node fails or a transaction finds the lease elsewhere. When the
// chosen node changes, connections to the old one are closed as they come
// back to their pools.

const (
	// checkInterval is how often the chosen node's health, and whether an
	// earlier node of the list is healthy again, is checked.
	checkInterval = time.Second
	// probeTimeout bounds one health check of one node.
	probeTimeout = time.Second
	// leaseFailureLogEvery is how often the writer lease that cannot be
	// read or moved is logged again while that lasts.
	leaseFailureLogEvery = time.Minute
)

// splitAddrs returns the servers a DSN names: several for tcp(a,b,c), else
// one. A server without a port gets 3306. It fails for a list of addresses on
// another protocol than tcp.
func splitAddrs(dsn string, cfg *mysql.Config) ([]string, error) {
	raw := dsnAddr(dsn)
	if !strings.Contains(raw, ",") {
		return []string{cfg.Addr}, nil
	}
	if cfg.Net != "tcp" {
		return nil, fmt.Errorf("a list of servers needs the tcp protocol, got %s(%s)", cfg.Net, raw)
	}
	var addrs []string
	for given := range strings.SplitSeq(raw, ",") {
		a := strings.TrimSpace(given)
		if a == "" {
			return nil, fmt.Errorf("empty server in the list tcp(%s)", raw)
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(strings.Trim(a, "[]"), "3306")
		}
		if err := checkPort(given, a); err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// cluster chooses the node of a Galera cluster that the store uses.
type cluster struct {
	addrs  []string
	probes []*sql.DB // one connection per node, for health checks
	log    *slog.Logger

	choosing sync.Mutex // one choice at a time
	// leaseFailing: the last choice could not read or move the lease
	// (under choosing), since leaseFailedAt, last logged at leaseLoggedAt,
	// after leaseFailures failed choices.
	leaseFailing                 bool
	leaseFailedAt, leaseLoggedAt time.Time
	leaseFailures                int
	// leaseLogEvery is how often a lease that keeps failing is logged
	// again (leaseFailureLogEvery).
	leaseLogEvery time.Duration
	writer        atomic.Int32 // index in addrs of the chosen node; -1: none
	check         chan struct{}
	stop          chan struct{}
	done          chan struct{}
	started       atomic.Bool // run is running, and closes done when it ends
}

// newCluster connects to nothing yet: choose makes the first choice.
func newCluster(cfg *mysql.Config, addrs []string, log *slog.Logger) (*cluster, error) {
	c := &cluster{addrs: addrs, log: log, check: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		leaseLogEvery: leaseFailureLogEvery}
	c.writer.Store(-1)
	probes, err := openProbes(cfg, addrs)
	if err != nil {
		return nil, err
	}
	c.probes = probes
	return c, nil
}

// openProbes opens a pool of one connection to each of addrs, made with cfg
// but for the address, the probes' timeouts and their isolation: every
// probe's session reads only what has committed (committedProbe).
func openProbes(cfg *mysql.Config, addrs []string) ([]*sql.DB, error) {
	var probes []*sql.DB
	for _, a := range addrs {
		pc := cfg.Clone()
		pc.Addr = a
		pc.Timeout, pc.ReadTimeout, pc.WriteTimeout = probeTimeout, 2*probeTimeout, 2*probeTimeout
		// Set by committedProbe, under no name: a DSN's, under a name the
		// server does not know, would fail every connection.
		dropParam(pc, "tx_isolation")
		dropParam(pc, "transaction_isolation")
		conn, err := newConnector(pc)
		if err != nil {
			for _, db := range probes {
				db.Close()
			}
			return nil, fmt.Errorf("configure MySQL connector for %s: %w", a, err)
		}
		db := sql.OpenDB(boundedConnect{committedProbe{conn}}) // a node gone silent must not hold its one session for ever
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		probes = append(probes, db)
	}
	return probes, nil
}

// committedProbe makes a probe's connections, each of whose sessions reads
// only what has committed, whatever the server's default or the DSN say:
// the probes read and move the writer lease, which under READ UNCOMMITTED
// would be read as another session left it before it committed or rolled
// back. The statement, unlike a DSN parameter (committedReads), needs no
// name of the variable, which Open learns only after the first choice of a
// node, made with these probes.
type committedProbe struct{ driver.Connector }

func (c committedProbe) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("the MySQL driver's connection %T cannot execute a statement", conn)
	}
	if _, err := ex.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// reopenProbes replaces the probes' pools with pools made with cfg, once
// Open has set on it what every session of the store needs (committedSessions:
// the binary log's format). Call it before start.
func (c *cluster) reopenProbes(cfg *mysql.Config) error {
	probes, err := openProbes(cfg, c.addrs)
	if err != nil {
		return err
	}
	c.choosing.Lock()
	old := c.probes
	c.probes = probes
	c.choosing.Unlock()
	for _, db := range old {
		db.Close()
	}
	return nil
}

// start begins the periodic checks; close ends them.
func (c *cluster) start() {
	c.started.Store(true)
	go c.run()
}

// close may come before start, when Open fails: then nothing runs to close
// done, and waiting for it would wait for ever.
func (c *cluster) close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
		if c.started.Load() {
			<-c.done
		}
	}
	c.closeProbes()
}

func (c *cluster) closeProbes() {
	for _, db := range c.probes {
		db.Close()
	}
}

func (c *cluster) run() {
	defer close(c.done)
	t := time.NewTicker(checkInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.check:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(c.addrs))*2*probeTimeout)
		c.choose(ctx) //nolint:errcheck // logged there, once; connections fail until a node is healthy
		cancel()
	}
}

// suspect asks for a check now, without waiting for it: a connection to node
// failed.
func (c *cluster) suspect(node int) {
	if int(c.writer.Load()) != node {
		return
	}
	select {
	case c.check <- struct{}{}:
	default:
	}
}

// chosen is the address of the chosen node, or "" when none is healthy.
func (c *cluster) chosen() string {
	if i := c.writer.Load(); i >= 0 {
		return c.addrs[i]
	}
	return ""
}

// node returns the chosen node, choosing one first if none is.
func (c *cluster) node(ctx context.Context) (int, error) {
	if i := c.writer.Load(); i >= 0 {
		return int(i), nil
	}
	return c.choose(ctx)
}

// choose checks the nodes, reads the writer lease and makes the node that
// holds it the chosen node, moving the lease to the first healthy node of the
// list if the node it names is not healthy. Before the lease table exists
// (before migrations), the first healthy node is chosen. choose returns
// eventstore.ErrUnavailable, with each node's reason, when no node is healthy.
func (c *cluster) choose(ctx context.Context) (int, error) {
	c.choosing.Lock()
	defer c.choosing.Unlock()
	nodes := c.probe(ctx)
	first := -1
	var reasons []string
	for i, n := range nodes {
		if n.err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", c.addrs[i], n.err))
		} else if first < 0 {
			first = i
		}
	}
	if first < 0 {
		if old := c.writer.Swap(-1); old >= 0 {
			c.log.Error("Galera: no node is in the Primary component, ready and synced; appends and reads wait", "was", c.addrs[old], "reasons", reasons)
		}
		return -1, fmt.Errorf("%w: no node of the Galera cluster is in the Primary component, ready and synced (%s)",
			eventstore.ErrUnavailable, strings.Join(reasons, "; "))
	}
	chosen, err := c.follow(ctx, nodes, first)
	if err != nil {
		// Logged when it starts failing, and again every leaseLogEvery
		// while it lasts, not at every check: the periodic check, which
		// tries again each second, has no one to return it to, and
		// meanwhile the pools stay on a node that may be gone.
		now := time.Now()
		c.leaseFailures++
		switch {
		case !c.leaseFailing:
			c.leaseFailing, c.leaseFailedAt, c.leaseLoggedAt, c.leaseFailures = true, now, now, 1
			c.log.Error("Galera: cannot read or move the writer lease; checking again each second", "node", c.addrs[first], "error", err)
		case now.Sub(c.leaseLoggedAt) >= c.leaseLogEvery:
			c.leaseLoggedAt = now
			c.log.Error("Galera: still cannot read or move the writer lease; checking again each second", "node", c.addrs[first], "error", err,
				"failing_for", now.Sub(c.leaseFailedAt).Round(time.Second), "failed_checks", c.leaseFailures)
		}
		return -1, fmt.Errorf("%w: the Galera cluster's writer lease: %w", eventstore.ErrUnavailable, err)
	}
	if c.leaseFailing {
		c.leaseFailing = false
		c.log.Info("Galera: the writer lease is read, or moved, again", "node", c.addrs[chosen],
			"failed_for", time.Since(c.leaseFailedAt).Round(time.Second), "failed_checks", c.leaseFailures)
	}
	if old := c.writer.Swap(int32(chosen)); old != int32(chosen) {
		from := "none"
		if old >= 0 {
			from = c.addrs[old]
		}
		c.log.Warn("Galera: writing through another node", "node", c.addrs[chosen], "was", from, "not_healthy", reasons)
	}
	return chosen, nil
}

// nodeState is what a probe learnt of a node: why it may not take writes,
// or its wsrep_gcomm_uuid.
type nodeState struct {
	uuid string
	err  error
}

// probe checks every node at once.
func (c *cluster) probe(ctx context.Context) []nodeState {
	nodes := make([]nodeState, len(c.addrs))
	var wg sync.WaitGroup
	for i := range c.addrs {
		wg.Go(func() { nodes[i].uuid, nodes[i].err = c.health(ctx, i) })
	}
	wg.Wait()
	return nodes
}

// errNoTable is MySQL's "table doesn't exist".
const errNoTable = 1146

// follow returns the node that holds the writer lease, after moving the
// lease to node first (healthy) if the node it names is not healthy. It
// returns first while the lease table does not exist.
func (c *cluster) follow(ctx context.Context, nodes []nodeState, first int) (int, error) {
	for range 3 {
		holder, epoch, err := c.lease(ctx, first)
		switch {
		case isMySQLError(err, errNoTable):
			return first, nil // not migrated yet: no appends either
		case err != nil:
			return -1, err
		}
		for i, n := range nodes {
			if n.err == nil && holder != "" && n.uuid == holder {
				return i, nil
			}
		}
		// The lease names no healthy node: move it to first, unless another
		// instance moved it meanwhile (then look again).
		moved, err := c.take(ctx, first, nodes[first].uuid, holder, epoch)
		if err != nil && !isMySQLError(err, errDeadlock) {
			return -1, err
		}
		if moved {
			c.log.Warn("Galera: moved the writer lease", "node", c.addrs[first], "uuid", nodes[first].uuid, "from", orNone(holder), "epoch", epoch+1)
			return first, nil
		}
	}
	return -1, errors.New("the lease kept moving while this instance tried to follow it")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// lease reads the writer lease through node i, once node i has applied
// every transaction the cluster committed before: the holder's uuid ("" for
// no lease yet) and the lease's epoch.
func (c *cluster) lease(ctx context.Context, i int) (string, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*probeTimeout)
	defer cancel()
	var holder string
	var epoch uint64
	err := c.probes[i].QueryRowContext(ctx, "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT node, epoch FROM writer_lease WHERE id = 1").Scan(&holder, &epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, nil
	}
	return holder, epoch, err
}

// takeBound bounds take's wait for a lock within its own bound (2 s):
// every append transaction locks the lease's row, and a move that waits
// for one that holds it would go on waiting in the server after the driver
// closed the connection, for up to innodb_lock_wait_timeout (50 s by
// default), a session per check. (Galera is MariaDB's: lease reads with
// SET STATEMENT too.)
const takeBound = "SET STATEMENT innodb_lock_wait_timeout = 1, lock_wait_timeout = 1 FOR "

// take moves the lease from holder at epoch to the node uuid, through node
// i, that node. It reports false if the lease was not at holder and epoch
// any more.
func (c *cluster) take(ctx context.Context, i int, uuid, holder string, epoch uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*probeTimeout)
	defer cancel()
	var res sql.Result
	var err error
	if holder == "" {
		res, err = c.probes[i].ExecContext(ctx, takeBound+"INSERT IGNORE INTO writer_lease (id, node, epoch) VALUES (1, ?, 1)", uuid)
	} else {
		res, err = c.probes[i].ExecContext(ctx, takeBound+"UPDATE writer_lease SET node = ?, epoch = epoch + 1 WHERE id = 1 AND node = ? AND epoch = ?", uuid, holder, epoch)
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// health returns node i's wsrep_gcomm_uuid if it may take writes: it is in
// the Primary component, ready, and Synced (wsrep_local_state 4); else why
// not.
func (c *cluster) health(ctx context.Context, i int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*probeTimeout)
	defer cancel()
	rows, err := c.probes[i].QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_status', 'wsrep_ready', 'wsrep_local_state', 'wsrep_local_state_comment', 'wsrep_gcomm_uuid')")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	st := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return "", err
		}
		st[strings.ToLower(k)] = v
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	switch {
	case st["wsrep_cluster_status"] == "" || st["wsrep_cluster_status"] == "Disconnected":
		return "", errors.New("not a node of a Galera cluster (wsrep is off or not connected)")
	case st["wsrep_cluster_status"] != "Primary":
		return "", fmt.Errorf("not in the Primary component (wsrep_cluster_status %s)", st["wsrep_cluster_status"])
	case st["wsrep_ready"] != "ON":
		return "", fmt.Errorf("not ready (wsrep_ready %s)", st["wsrep_ready"])
	case st["wsrep_local_state"] != "4":
		return "", fmt.Errorf("not synced (wsrep_local_state %s, %s)", st["wsrep_local_state"], st["wsrep_local_state_comment"])
	case st["wsrep_gcomm_uuid"] == "":
		return "", errors.New("reports no wsrep_gcomm_uuid")
	}
	return st["wsrep_gcomm_uuid"], nil
}

// connector returns a pool's connector: connections to the chosen node, made
// with cfg but for the address.
func (c *cluster) connector(cfg *mysql.Config) (driver.Connector, error) {
	cc := &clusterConnector{c: c}
	for _, a := range c.addrs {
		nc := cfg.Clone()
		nc.Addr = a
		conn, err := newConnector(nc)
		if err != nil {
			return nil, fmt.Errorf("configure MySQL connector for %s: %w", a, err)
		}
		cc.nodes = append(cc.nodes, conn)
	}
	return cc, nil
}

// clusterConnector connects to the chosen node.
type clusterConnector struct {
	c     *cluster
	nodes []driver.Connector
}

func (cc *clusterConnector) Driver() driver.Driver { return cc.nodes[0].Driver() }

// Connect connects to the chosen node. If that fails, the node is checked at
// once, and the connection tried once more on the node chosen then.
func (cc *clusterConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var err error
	for range 2 {
		var i int
		if i, err = cc.c.node(ctx); err != nil {
			return nil, err
		}
		var conn driver.Conn
		if conn, err = cc.nodes[i].Connect(ctx); err == nil {
			return newNodeConn(ctx, conn, i, cc.c)
		}
		if ctx.Err() != nil {
			break
		}
		if next, cerr := cc.c.choose(ctx); cerr != nil || next == i {
			break
		}
	}
	return nil, err
}

// mysqlConn is what the driver's connections do, and a nodeConn and a
// privilegedSession (regrant.go) pass on: the one list of it.
type mysqlConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// nodeConn is a connection to one node. It stops being valid when another
// node is chosen, so its pool closes it instead of reusing it, and it reports
// failures that may mean its node is gone.
type nodeConn struct {
	mysqlConn
	node int
	c    *cluster
}

// newNodeConn wraps conn, a new connection to node, and sets its session's
// @tributary_node to the node's wsrep_gcomm_uuid, which the writer lease is
// compared with (leaseLockHead).
func newNodeConn(ctx context.Context, conn driver.Conn, node int, c *cluster) (driver.Conn, error) {
	mc, ok := conn.(mysqlConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("the MySQL driver's connection %T lacks a method the store needs", conn)
	}
	if _, err := mc.ExecContext(ctx, "SET @tributary_node = (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_GCOMM_UUID')", nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read the node's wsrep_gcomm_uuid: %w", err)
	}
	return &nodeConn{mysqlConn: mc, node: node, c: c}, nil
}

// leaseLockHead is the dialect's LockHead on a Galera cluster: it also locks
// the writer lease and says whether it names this session's node.
const leaseLockHead = "SELECT h.position, h.recorded_at, SYSDATE(6), COALESCE(w.node = @tributary_node, FALSE) " +
	"FROM log_head h LEFT JOIN writer_lease w ON w.id = 1 WHERE h.id = 1 FOR UPDATE"

// recheck chooses again now, and returns once the pools connect to the node
// that holds the lease (a transaction found it elsewhere), or fails.
func (c *cluster) recheck(ctx context.Context) error {
	_, err := c.choose(ctx)
	return err
}

// errNotReady is MariaDB's answer from a Galera node that has left the
// Primary component or is not synced: "WSREP has not yet prepared node for
// application use". Nothing was run.
const errNotReady = 1047

// failed reports a failure that may mean the node is gone, and makes a
// not-ready node's answer a bad connection, so that it is not used again.
func (n *nodeConn) failed(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	switch {
	case isMySQLError(err, errNotReady):
		n.c.suspect(n.node)
		return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, mysql.ErrInvalidConn), errors.As(err, &ne),
		isMySQLError(err, errServerShutdown):
		n.c.suspect(n.node)
	}
	return err
}

func (n *nodeConn) current() bool { return int(n.c.writer.Load()) == n.node }

func (n *nodeConn) IsValid() bool { return n.current() && n.mysqlConn.IsValid() }

func (n *nodeConn) ResetSession(ctx context.Context) error {
	if !n.current() {
		return driver.ErrBadConn
	}
	return n.mysqlConn.ResetSession(ctx)
}

func (n *nodeConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := n.mysqlConn.QueryContext(ctx, query, args)
	return rows, n.failed(err)
}

func (n *nodeConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := n.mysqlConn.ExecContext(ctx, query, args)
	return res, n.failed(err)
}

func (n *nodeConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := n.mysqlConn.BeginTx(ctx, opts)
	return tx, n.failed(err)
}

func (n *nodeConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := n.mysqlConn.PrepareContext(ctx, query)
	return st, n.failed(err)
}

func (n *nodeConn) Ping(ctx context.Context) error {
	return n.failed(n.mysqlConn.Ping(ctx))
}

// causalTail makes the sessions of the live feed's pool (the tail, which
// also serves the durability fence and the readiness probe) read, on a
// Galera node, only once the node has applied every transaction the cluster
// committed before the read began: wsrep_sync_wait's READ bit, set on each
// session as it connects, and kept with any other bit the DSN sets. A node
// applies the other nodes' commits a moment after they are acknowledged,
// and the tailer checks on each poll that the event at its head is still
// the one it handed out: read on a node just switched to (the writer lease
// moved, a proxy failed over) that had not applied it yet, the log looked
// gone back, which the feed logged at ERROR, and every subscription was
// ended. Clients' reads keep their own pool, which does not wait (ReadsMayLag).
//
// Such a wait is bounded by the Galera provider's repl.causal_read_timeout
// (30 s by default): past it the read fails (error 1205), and the feed
// says so and reads again at its next poll. A server that is not a Galera
// node (wsrep_on off, or MySQL, which knows no such variable) is left as it
// is: its reads see every commit as it is acknowledged.
type causalTail struct{ driver.Connector }

func (c causalTail) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := readCausally(ctx, conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("make the live feed's session read causally on a Galera node: %w", err)
	}
	return conn, nil
}

// readCausally sets wsrep_sync_wait's READ bit on conn's session if its
// server is a Galera node.
func readCausally(ctx context.Context, conn driver.Conn) error {
	q, qok := conn.(driver.QueryerContext)
	ex, eok := conn.(driver.ExecerContext)
	if !qok || !eok {
		return fmt.Errorf("the MySQL driver's connection %T cannot run a statement", conn)
	}
	rows, err := q.QueryContext(ctx, "SELECT @@GLOBAL.wsrep_on", nil)
	if isMySQLError(err, errUnknownVariable) {
		return nil // MySQL
	}
	if err != nil {
		return fmt.Errorf("read @@GLOBAL.wsrep_on, whether the server is a Galera node: %w", err)
	}
	v := make([]driver.Value, 1)
	err = rows.Next(v)
	rows.Close()
	if err != nil {
		return err
	}
	switch on := v[0].(type) {
	case []byte: // the text protocol's
		if string(on) != "1" {
			return nil
		}
	case int64:
		if on != 1 {
			return nil
		}
	default:
		return nil
	}
	_, err = ex.ExecContext(ctx, "SET SESSION wsrep_sync_wait = @@SESSION.wsrep_sync_wait | 1", nil)
	return err
}

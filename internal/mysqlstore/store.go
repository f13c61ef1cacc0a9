// Package mysqlstore runs the SQL event store (package sqlstore) on MySQL or
// MariaDB: it opens the connection pools, migrates the schema, checks at
// start-up that the server makes commits durable, and keeps the durability
// fence for servers whose binary log is off. Its dialect locks the single
// log_head row (SELECT … FOR UPDATE) in every append transaction until
// COMMIT, which serialises commits across every process on the database.
package mysqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

var _ eventstore.Store = (*Store)(nil)

// Options tune a Store. The zero value is usable.
type Options struct {
	// MaxConns is the size of the read pool (default: the service's). Idle connections are
	// kept up to the same number: reconnecting under load costs more than idling.
	MaxConns int
	// Logger receives the store's own log lines (default: discard).
	Logger *slog.Logger
	// Redact, if set, is applied to every string the store's log lines
	// quote (sqlstore's Options.Redact).
	Redact func(string) string
	// Metrics, if set, counts what the store does and watches its pools.
	Metrics *metrics.Metrics
	// AllowUnsafeDurability lets Open succeed on a server whose settings
	// could lose acknowledged appends in a crash (it logs a warning instead).
	AllowUnsafeDurability bool
	// ReadDSN, if set, names a replica of the DSN's server (one server, same
	// database): clients' reads and the live feed's tail are served there;
	// appends, their idempotency checks, migrations and the durability
	// checks stay on the DSN's server. See replica.go.
	ReadDSN string
	// MaxEventBytes is the largest data plus metadata of one event that
	// callers may send (TRIBUTARY_MAX_EVENT_BYTES; 0: not checked).
	MaxEventBytes int
	// MigrateOnly: the store is opened to bring its schema up to date and
	// close (`api migrate`). Migrate then does not check that the DSN's
	// user may write what an append writes, which serving needs and a
	// migration does not.
	MigrateOnly bool

	// writerIdle is how long a writer session may sit idle inside a
	// transaction before its server ends it (0: writerIdleBound); tests
	// shorten it. idleAsOnMySQL bounds it with wait_timeout, as on a server
	// without idle_transaction_timeout (tests).
	writerIdle    time.Duration
	idleAsOnMySQL bool
}

// writerIdleBound is how long a writer session may sit idle inside a
// transaction before its server ends it: a few seconds past the writer's
// own bound on a transaction, which no append of a live process outlasts.
const writerIdleBound = sqlstore.MaxTxTime + 5*time.Second

// warnShortTimeouts warns of a readTimeout or writeTimeout of cfg's, the
// DSN named what, shorter than the store's own waits: a lock wait, a
// COMMIT's answer or a statement of the live feed's may take up to
// sqlstore.MaxTxTime, and the driver takes a wait past the DSN's bound for
// a lost session (a COMMIT's answer lost: an outcome unknown).
func warnShortTimeouts(log *slog.Logger, what string, cfg *mysql.Config) {
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"readTimeout", cfg.ReadTimeout}, {"writeTimeout", cfg.WriteTimeout}} {
		if p.d > 0 && p.d < sqlstore.MaxTxTime {
			log.Warn(fmt.Sprintf("%s's %s (%s) is shorter than the store's waits (a lock wait, a commit's answer, the live feed's statements: up to %s): "+
				"a wait past it is taken for a lost session, and a commit's answer lost is an append of unknown outcome; remove it, or set it to %s or more",
				what, p.name, p.d, sqlstore.MaxTxTime, sqlstore.MaxTxTime), "parameter", p.name, "value", p.d.String())
		}
	}
}

// poolIdleBound is the longest a pool keeps a session idle: under the idle
// cuts of the proxies and load balancers in front of a server (ProxySQL,
// HAProxy, a cloud's), which no server setting shows. A session they cut
// is found dead by the next request to take it, which the driver logs.
const poolIdleBound = 30 * time.Second

// idleBound is how long a pool keeps a session idle whose server ends it
// after wait seconds idle (0: never): a quarter of that, as the pool looks
// only every so often (a session may sit idle up to twice the pool's bound),
// and poolIdleBound at most.
func idleBound(wait int64) time.Duration {
	if wait <= 0 {
		return poolIdleBound
	}
	return min(poolIdleBound, max(time.Duration(wait)*time.Second/4, time.Second/4))
}

// boundIdleSessions has every pool close its idle sessions before the
// server (wait_timeout, its sessions' own; the writer's is set by the store
// when it is the writer's idle bound: boundIdleTransactions) or a proxy ends
// them.
//
// The value is read on a pool that holds sessions already (the primary's;
// the feed's, of a read replica's DSN), not on the reads' pool, which
// would keep a session it has not needed yet.
func (s *Store) boundIdleSessions(ctx context.Context) error {
	waitOf := func(db *sql.DB) (int64, error) {
		var wait int64
		if err := db.QueryRowContext(ctx, "SELECT @@SESSION.wait_timeout").Scan(&wait); err != nil {
			return 0, fmt.Errorf("read the server's wait_timeout: %w", translate(err))
		}
		return wait, nil
	}
	primary, err := waitOf(s.primary)
	if err != nil {
		return err
	}
	s.primary.SetConnMaxIdleTime(idleBound(primary))
	s.probe.SetConnMaxIdleTime(idleBound(primary))
	replica := primary
	if s.feed != s.primary {
		if replica, err = waitOf(s.feed); err != nil {
			return err
		}
		s.feed.SetConnMaxIdleTime(idleBound(replica))
	}
	s.reads.SetConnMaxIdleTime(idleBound(replica))
	writer := primary
	if s.idleVar == "wait_timeout" {
		writer = s.idleSeconds // the store's own, on the writer's sessions
	}
	s.writes.SetConnMaxIdleTime(idleBound(writer))
	return nil
}

// Store is an event store on a MySQL or MariaDB database. Close it when done.
type Store struct {
	*sqlstore.Store
	// otherLog is the read replica's other log, as ReplicaLag last found
	// it (replicalog.go); nil while it is the primary's.
	otherLog atomic.Pointer[otherLogError]
	// otherLogChecked is when a refused read last checked the logs itself
	// (otherLogRefusal), in Unix nanoseconds.
	otherLogChecked atomic.Int64

	reads, writes, feed *sql.DB // see sqlstore.Options
	// primary serves the durability checks and fence, migrations and the
	// replica's lag: the feed pool itself unless a replica serves reads.
	primary *sql.DB
	// probe serves the search for who holds a lock an append waited for,
	// on the primary: none of the feed's sessions (sayLockHolder).
	probe    *sql.DB
	replica  *mysql.Config // the read replica's, or nil
	log      *slog.Logger
	cfg      *mysql.Config
	addrs    []string // the servers the DSN names
	galera   *cluster // chooses the node, when addrs are several
	onGalera bool     // the server is a Galera node (wsrep_on)
	// onMariaDB: the server is MariaDB (VERSION()), which takes SET
	// STATEMENT; MySQL does not.
	onMariaDB bool
	// fence: waitDurable must write, the binary log being off. It follows
	// the server's settings as each new session finds them, as settings
	// does (durability.go).
	fence atomic.Bool
	// refusing: the server's settings, as the last session to read them
	// found them, let a crash lose an acknowledged append, and that is not
	// allowed: Append refuses every append (refuseUnlessDurable).
	refusing atomic.Bool
	// rechecking: an append reads the settings again (refuseUnlessDurable).
	rechecking atomic.Bool
	settings   settingsWatch

	durable atomic.Int64  // every commit up to this position is known to be on disk
	fencing chan struct{} // held while a fence commits
	// committing is the head the writer's COMMIT on its way will leave
	// (sqlstore.Options.Committing), or 0 once one did not return success
	// (NotCommitted); moved tells, by closing, that durable or committing
	// moved, and is replaced under movedMu.
	committing atomic.Int64
	movedMu    sync.Mutex
	moved      chan struct{}
	patience   time.Duration // ownCommitPatience
	// lockWait and rowLockWait are a new session's lock_wait_timeout and
	// innodb_lock_wait_timeout, as the server or the DSN sets them: a
	// fence's wait is bounded by its caller's deadline (on MySQL, on a
	// session whose waits are then put back).
	lockWait, rowLockWait float64
	restoreLocks          string // the SET that puts them back on a session (MySQL's fence)

	beforeCommit atomic.Pointer[func()] // set by tests only (export_test.go)
	// beforeHeadLook runs, if set (tests only), as an append that found a
	// position taken looks whether the log's head is behind its events,
	// with the look's context.
	beforeHeadLook atomic.Pointer[func(context.Context)]
	// privileges ends the sessions opened before a privilege refusal
	// (regrant.go); replicaPrivileges, the read replica's (its reads' and
	// its feed's): a refusal there says nothing of the primary's grants,
	// and ends none of the primary's sessions, the writer's included.
	privileges, replicaPrivileges privilegeEpoch
	// missingSaid is set once translate has logged the database or a table
	// missing, and cleared once Ping finds them all there again; indexSaid,
	// likewise, for an index that the filtered reads force. Apart: an index
	// missing (which Ping's tables then pass, not its indexes) kept a table
	// or the database dropped after it from being logged.
	missingSaid, indexSaid atomic.Bool
	// sessions makes a session of the primary's apart from every pool
	// (databaseGone); gone is databaseGone's last answer.
	sessions driver.Connector
	gone     goneLook
	// behindSaid is set once the log's head was logged behind its events
	// (headBehind), until Ping finds it right again.
	behindSaid atomic.Bool
	m          *metrics.Metrics

	// writerIdle bounds how long a writer session may sit idle inside a
	// transaction (Options.writerIdle); idleVar and idleSeconds are the
	// server's variable that bounds it on the writer's sessions, and its
	// value (boundIdleTransactions).
	writerIdle    time.Duration
	idleAsOnMySQL bool
	migrateOnly   bool // Options.MigrateOnly
	idleVar       string
	idleSeconds   int64
	// lockWaits are where the server says whom a session waiting for a
	// lock waits for (lockWaitQueries), for lockHolder.
	lockWaits []lockWaitQuery
	// holderSaid is set once sayLockHolder has logged who holds the log's
	// lock, and cleared once an append goes in; seeking while it looks, in
	// a goroutine of seekers, which Close waits for (none starts once
	// closed is set, under seekMu).
	holderSaid, seeking atomic.Bool
	seekers             sync.WaitGroup
	seekMu              sync.Mutex
	closed              bool
}

// ReadsMayLag reports whether a read may not yet see an append another
// instance has acknowledged: reads are served by a read replica, or by a
// node of a Galera cluster, which applies the other nodes' commits a moment
// after they are acknowledged (the reads do not wait for it, as the
// writer's sessions do with wsrep_sync_wait).
func (s *Store) ReadsMayLag() bool { return s.replica != nil || s.onGalera }

// Addr is the database server's address; for a Galera cluster, the
// addresses of its nodes, comma-separated.
func (s *Store) Addr() string { return strings.Join(s.addrs, ",") }

// Node is the address of the server the store uses now: the chosen node of a
// Galera cluster ("" while none is healthy), else the only server.
func (s *Store) Node() string {
	if s.galera != nil {
		return s.galera.chosen()
	}
	return s.addrs[0]
}

// ReadAddr is the address of the read replica, or "" when reads are served
// by the primary.
func (s *Store) ReadAddr() string {
	if s.replica == nil {
		return ""
	}
	return s.replica.Addr
}

// Database is the database's name on the server.
func (s *Store) Database() string { return s.cfg.DBName }

// newPool is a pool of up to size sessions of c's, as many kept idle,
// each made within connectTimeout where its caller gives it no deadline
// (boundedConnect).
func newPool(c driver.Connector, size int) *sql.DB {
	db := sql.OpenDB(boundedConnect{c})
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	db.SetConnMaxLifetime(30 * time.Minute)
	return db
}

// connectTimeout bounds the making of a session whose caller gives no
// deadline: the handshake, and the statements each session runs as it
// begins.
const connectTimeout = 10 * time.Second

// boundedConnect makes c's sessions within connectTimeout where the
// context has no deadline. database/sql makes a session on its own, with
// a context that never ends, for a statement waiting once a session is
// dropped; the driver then read the server's greeting with no bound but
// the DSN's readTimeout (none by default), and on a server gone silent (a
// proxy black-holed, no FIN, no reset) that session held its place in the
// pool for ever, after the statement had gone.
type boundedConnect struct{ driver.Connector }

func (c boundedConnect) Connect(ctx context.Context) (driver.Conn, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, connectTimeout)
		defer cancel()
	}
	return c.Connector.Connect(ctx)
}

// Open connects to the database named by dsn (go-sql-driver format), checks
// that it answers and starts the writer. It does not migrate: call Migrate.
//
// A DSN whose address is a list, tcp(db1:3306,db2:3306,db3:3306), names the
// nodes of a Galera cluster: the store uses the first of them, in that order,
// that is in the Primary component, ready and synced, and moves to another
// when it is not (see cluster.go). Open returns an error wrapping
// eventstore.ErrUnavailable while no node is.
func Open(ctx context.Context, dsn string, opts Options) (_ *Store, err error) {
	cfg, err := parseDSN(dsn, primaryDSN)
	if err != nil {
		return nil, err
	}
	var replica *mysql.Config
	defer func() {
		// A statement of the start's that the driver would not send is
		// past a DSN's maxAllowedPacket (16 meant as 16 MiB): translated
		// as an append's, it told the operator to send smaller events.
		if small := (*packetError)(nil); errors.Is(err, eventstore.ErrTooLarge) && !errors.As(err, &small) {
			switch {
			case cfg.MaxAllowedPacket > 0:
				err = packetTooSmall(mysql.ErrPktTooLarge, cfg, primaryDSN)
			case replica != nil && replica.MaxAllowedPacket > 0:
				err = packetTooSmall(mysql.ErrPktTooLarge, replica, replicaDSN)
			}
		}
	}()
	addrs, err := splitAddrs(dsn, cfg)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", primaryDSN, err)
	}
	cfg.Addr = addrs[0]
	if cfg.DBName == "" {
		return nil, errors.New(primaryDSN + " names no database (user:pass@tcp(host:3306)/DBNAME)")
	}
	normalise(dsn, cfg)
	if opts.ReadDSN != "" {
		if replica, err = replicaConfig(opts.ReadDSN); err != nil {
			return nil, err
		}
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = config.Defaults().MySQLMaxConns
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Every line of the store's, sqlstore's too, goes through Redact.
	opts.Logger = sqlstore.RedactingLogger(opts.Logger, opts.Redact)
	warnShortTimeouts(opts.Logger, primaryDSN, cfg)
	if replica != nil {
		warnShortTimeouts(opts.Logger, replicaDSN, replica)
	}
	s := &Store{log: opts.Logger, cfg: cfg, addrs: addrs, fencing: make(chan struct{}, 1), moved: make(chan struct{}),
		patience: ownCommitPatience, writerIdle: cmp.Or(opts.writerIdle, writerIdleBound),
		idleAsOnMySQL: opts.idleAsOnMySQL, migrateOnly: opts.MigrateOnly}
	pool := func(c driver.Connector, size int) *sql.DB {
		return newPool(s.privileges.sessionsOf(c), size)
	}
	replicaPool := func(c driver.Connector, size int) *sql.DB {
		return newPool(s.replicaPrivileges.sessionsOf(c), size)
	}
	if len(addrs) > 1 {
		if s.galera, err = newCluster(cfg, addrs, opts.Logger); err != nil {
			return nil, err
		}
		if _, err := s.galera.choose(ctx); err != nil {
			s.galera.close()
			return nil, fmt.Errorf("connect to the Galera cluster %s: %w", s.Addr(), err)
		}
	}
	connector, err := s.committedSessions(ctx)
	if err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("connect to MySQL at %s: %w", s.Addr(), translateAtStart(err, cfg))
	}
	// The search for a lock's holder (sayLockHolder) has sessions of its
	// own: it takes two at once, for up to holderTimeout, just when appends
	// stall, and the feed's three are the tailer's, its fence's and a
	// readiness probe's. Sessions are made only when it runs.
	s.probe = pool(connector, 2)
	s.sessions = connector
	// The feed's three: the tailer reads while the fence writes, and a
	// readiness probe may come meanwhile.
	connector = watchDurability{Connector: connector, s: s}
	s.primary = pool(causalTail{connector}, 3)
	if err := s.primary.PingContext(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("connect to MySQL at %s: %w", s.Addr(), translateAtStart(err, cfg))
	}
	if opts.ReadDSN == "" {
		s.reads, s.feed = pool(connector, opts.MaxConns), s.primary
	} else if err := s.openReplica(ctx, replica, func(c driver.Connector) {
		s.reads, s.feed = replicaPool(c, opts.MaxConns), replicaPool(causalTail{c}, 3)
	}); err != nil {
		s.closeDBs()
		return nil, err
	}
	writer, err := s.writerConnector(ctx)
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	s.writes = pool(watchDurability{Connector: writer, s: s, writer: true}, 2)
	if err := s.boundIdleSessions(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	d, err := s.readDurability(ctx)
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	s.onGalera = d.galera
	if why := d.unsafe(); why != "" {
		if !opts.AllowUnsafeDurability {
			s.closeDBs()
			return nil, fmt.Errorf("%w: %s; fix the server's settings, or allow unsafe durability to accept losing acknowledged appends in a crash", ErrNotDurable, why)
		}
		opts.Logger.Warn("acknowledged appends can be lost in a crash of the database", "reason", why)
	}
	if s.replica != nil && !d.logBin {
		s.closeDBs()
		return nil, fmt.Errorf("%s is given a read replica, but its binary log is off: replication needs it on (log_bin, with sync_binlog=1)", s.Addr())
	}
	d.log(opts.Logger, s.Node())
	s.watchFrom(d, opts.AllowUnsafeDurability)
	if s.galera != nil {
		s.galera.start()
	}
	sd := dialect
	sd.Translate = s.translate
	// The readTimeout of the DSN the reads' pools (the clients' and the
	// live feed's) are on: a read that may have run it out is not sent
	// again. With a replica, both are the replica's, whose DSN alone bounds
	// their waits: the primary's, shorter, took a cut on the replica for a
	// timeout. (PrimaryStreamVersion, on the primary, keeps the primary's.)
	sd.DriverReadTimeout = s.cfg.ReadTimeout
	if s.replica != nil {
		sd.DriverReadTimeout = s.replica.ReadTimeout
	}
	if s.replica != nil {
		sd.TranslateRead = s.translateReplica
	}
	var version string
	if err := s.primary.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("read the server's version: %w", translate(err))
	}
	s.onMariaDB = mariaDB(version)
	s.lockWaits = lockWaitQueries(version)
	if !lockNoWait(version) {
		sd.GuardedLockHead = "" // every group reads first
	} else {
		// An append's read of its streams locks their last events while it
		// holds the log's lock: a lock another session holds on one (a
		// report's locking read of events) is refused, not waited for, as
		// the writes refuse it, or every append would wait for the report,
		// past the callers' deadlines (the server's wait outlives the
		// connection). The writer waits without the log's lock, and tries
		// again (Refused).
		sd.LockStreams = " FOR UPDATE NOWAIT"
	}
	if sd.GuardedLockHead == "" || !mariaDB(version) {
		sd.GuardedHead = "" // MySQL waits a second for a row lock at least
	}
	if s.galera != nil {
		sd.LockHead, sd.Leased, sd.NotWriter = leaseLockHead, true, s.galera.recheck
		sd.GuardedLockHead, sd.GuardedHead = "", "" // it must check the lease
	}
	// An append's reads wait for a lock as long as a new writer session
	// would, as the server or the DSN sets it, and no longer than the time
	// its group has left; its writes and COMMIT never wait (dialect.go).
	if err := s.writes.QueryRowContext(ctx, "SELECT @@SESSION.lock_wait_timeout, @@SESSION.innodb_lock_wait_timeout").Scan(&s.lockWait, &s.rowLockWait); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("read the writer's lock waits: %w", translate(err))
	}
	sd.WaitForLocks = func(left time.Duration) string { return waitForLocks(s.lockWait, s.rowLockWait, left) }
	s.restoreLocks = fmt.Sprintf("SET SESSION lock_wait_timeout = %s, innodb_lock_wait_timeout = %s",
		strconv.FormatFloat(s.lockWait, 'f', -1, 64), strconv.FormatFloat(s.rowLockWait, 'f', -1, 64))
	// A group's writes and COMMIT go in one query, which the server takes
	// only within max_allowed_packet: past it, it refuses the query (1153)
	// and closes the connection. The writer bounds a group's statements by
	// it, and refuses an append that could not go even alone
	// (eventstore.ErrTooLarge); an event bound it cannot carry is a
	// configuration to fix (checkEventBound).
	var packet int64
	if err := s.writes.QueryRowContext(ctx, "SELECT @@SESSION.max_allowed_packet").Scan(&packet); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("read the server's max_allowed_packet: %w", translate(err))
	}
	limit := packetLimit{bytes: packet}
	if c := int64(s.cfg.MaxAllowedPacket); c > 0 && c < packet {
		// The driver's own limit, which the DSN may set, below the server's.
		limit = packetLimit{bytes: c, dsn: true, server: packet}
	}
	packet = limit.bytes
	sd.MaxGroupBytes = groupBytes(packet)
	if err := checkEventBound(opts.MaxEventBytes, limit, sd.MaxGroupBytes); err != nil {
		s.closeDBs()
		return nil, err
	}
	if d.galera {
		// A Galera node, through a list of nodes or one address (a proxy,
		// one node): one statement at a time. When Galera aborts a local
		// transaction from another thread (a brute-force abort, as
		// applying another node's commit does), the rest of a
		// multi-statement batch runs outside it, each statement committing
		// on its own; an append's stream and head updates then commit
		// without its events (TestGaleraBatchAfterABruteForceAbortRunsNothing).
		// Sent one at a time, the statement after the abort fails with 1213.
		sd.Batch = false
		// Settling a lost COMMIT (sqlstore's settle.go) takes the log's
		// lock on one node, and another node's transaction is not held up
		// by it: not on Galera, until it is made to certify there. Such an
		// append is of unknown outcome (never "not written").
		sd.CannotSettle = true
		// The clients' reads do not wait for their node to apply the
		// cluster's commits; the live feed's do (causalTail).
		sd.ReadsLag = true
	}
	// The stall watch (sqlstore's stall.go) pings the writer's server on
	// a session of its own, on no database: a ping needs none. Not on a
	// Galera cluster, whose sessions stay on the node they were made on
	// when it chooses another: the cluster's own probes move off a node
	// that does not answer.
	var probe driver.Connector
	if s.galera == nil {
		probeCfg := s.cfg.Clone()
		probeCfg.DBName = ""
		// The watch bounds its waits with contexts of its own. A DSN's
		// readTimeout under its bound ended a ping to a server that
		// answers nothing with the driver's "invalid connection", which
		// says nothing of why, and the watch took the server for one that
		// failed fast: the stall never began. The dial's timeout stays (a
		// net.Error that timed out: no answer).
		probeCfg.ReadTimeout, probeCfg.WriteTimeout = 0, 0
		if probe, err = newConnector(probeCfg); err != nil {
			s.closeDBs()
			return nil, fmt.Errorf("configure MySQL connector: %w", err)
		}
	}
	var readProbe driver.Connector
	if s.replica != nil {
		if readProbe, err = s.replicaProbe(); err != nil {
			s.closeDBs()
			return nil, err
		}
	}
	s.Store = sqlstore.New(sd, sqlstore.Options{Reads: s.reads, Writes: s.writes, Feed: s.feed,
		// A wait that fails says so (eventstore.ErrDurabilityUnconfirmed):
		// a retry of a stored batch that fails it is told its batch is
		// stored, its durability in doubt.
		WaitDurable: func(ctx context.Context, position int64) error {
			if err := s.waitDurable(ctx, position); err != nil {
				return fmt.Errorf("%w: %w", eventstore.ErrDurabilityUnconfirmed, err)
			}
			return nil
		},
		Committing: s.committingUpTo, Committed: s.durableUpTo, NotCommitted: s.notCommitting,
		WentBack:     s.forgetDurable,
		BeforeCommit: s.runBeforeCommit, Hooked: func() bool { return s.beforeCommit.Load() != nil },
		Logger: opts.Logger, Metrics: opts.Metrics, ReadAhead: max(1, opts.MaxConns/4),
		Probe: probe, ProbeReads: opts.ReadDSN == "", // the reads are on its server too, but for a replica's
		ReadProbe: readProbe}) // the replica's own (replicaProbe)
	s.m = opts.Metrics
	pools := map[string]*sql.DB{"reads": s.reads, "writes": s.writes, "feed": s.feed, "lock_holder": s.probe}
	if s.replica != nil {
		pools["primary"] = s.primary
		opts.Metrics.ReplicaLag(s.lagForMetrics)
	}
	opts.Metrics.Store("mysql", pools)
	s.warnConnectionLimits(ctx)
	return s, nil
}

// waitForLocks is the SET with which a group's reads wait for a table's
// lock (lock_wait_timeout) and a row's (innodb_lock_wait_timeout) as a
// writer session does by default (lockWait, rowLockWait seconds), but no
// longer than left, the time before the group's callers' deadline, in whole
// seconds rounded down, at least 1 (0, MariaDB's refusal at once, only if
// the session's own is 0). At the deadline the
// driver closes the connection, but the server's session goes on waiting
// for the lock, holding a connection and, on its way to the lock, a place
// in its queue, until its own wait ends: a session per timed-out group, for
// up to 50 s by default. Rounded down, the server's wait ends before the
// deadline, with its answer that a lock was held (1205), which the writer
// waits out and tries again, and tells its callers if their time ends; a
// wait rounded up ran into the deadline first, and they were told the
// database did not answer (a stalled server, not a lock holder to look
// for). Under a second left, the wait is a second, the least MySQL takes.
func waitForLocks(lockWait, rowLockWait float64, left time.Duration) string {
	lock, row := boundedWaits(lockWait, rowLockWait, left)
	return fmt.Sprintf("SET SESSION lock_wait_timeout = %d, innodb_lock_wait_timeout = %d", lock, row)
}

// boundedWaits are lockWait and rowLockWait seconds, each no longer than
// left in whole seconds rounded down, at least 1 (see waitForLocks).
func boundedWaits(lockWait, rowLockWait float64, left time.Duration) (lock, row int64) {
	bound := max(math.Floor(left.Seconds()), 1)
	return int64(math.Ceil(min(lockWait, bound))), int64(math.Ceil(min(rowLockWait, bound)))
}

// groupBytes is the most bytes a group's statements may take for its query
// to fit a max_allowed_packet of packet bytes, the server's or the driver's
// (sqlstore's MaxGroupBytes): the driver sends a query as a command byte and
// the query, takes one less than the server's packet as its own bound, and
// writes values into a query only while it is 4 bytes short of that.
func groupBytes(packet int64) int64 { return max(packet-8, 1) }

// checkEventBound refuses an event bound (TRIBUTARY_MAX_EVENT_BYTES;
// 0: none given) under which a valid append of one event could never be
// written, because its statement, escaped, would not fit the server's
// max_allowed_packet (packet; the writer's bound is group). Refusing, not
// lowering a bound and logging it, is what an operator wants: no bound of
// the store's can make such an event fit, the service would keep taking
// bodies that it can only refuse with a 413 its limits say it should not
// give, and the fix is one of two settings, which the error names.
// (Appends of many events may still be past the packet, with the default
// body bound on a 4 MiB packet: those are refused one by one as too large,
// each told what is taken.)
func checkEventBound(maxEventBytes int, limit packetLimit, group int64) error {
	if maxEventBytes <= 0 {
		return nil
	}
	// The worst such event: every byte escaped, and the longest types.
	longest := strings.Repeat("x", eventstore.MaxNameLength)
	worst := sqlstore.AppendBytes(eventstore.AppendRequest{StreamType: longest,
		Events: []eventstore.NewEvent{{Type: longest, Data: []byte(strings.Repeat(`"`, maxEventBytes))}}})
	if need := worst + sqlstore.GroupOverheadBytes; need > group {
		whose := fmt.Sprintf("the MySQL server's max_allowed_packet (%d bytes)", limit.bytes)
		raise := fmt.Sprintf("raise the server's max_allowed_packet to at least %d", need+2)
		if limit.dsn {
			whose = fmt.Sprintf("the DSN's maxAllowedPacket parameter (%d bytes: the driver's own limit, below the server's max_allowed_packet of %d)",
				limit.bytes, limit.server)
			raise = fmt.Sprintf("raise the DSN's maxAllowedPacket to at least %d (or remove it", need+2)
			if limit.server >= need+2 {
				raise += ": the server's carries it)"
			} else {
				raise += fmt.Sprintf(", and raise the server's max_allowed_packet to at least %d)", need+2)
			}
		}
		// The largest event the packet carries, escaped: its data counts twice.
		if fits := (group-need)/2 + int64(maxEventBytes); fits > 0 {
			raise += fmt.Sprintf(", or lower TRIBUTARY_MAX_EVENT_BYTES to at most %d", fits)
		}
		return fmt.Errorf("TRIBUTARY_MAX_EVENT_BYTES is %d, but %s cannot carry an append of one such event: "+
			"escaped, it takes up to %d bytes in the append's statement; %s", maxEventBytes, whose, need, raise)
	}
	return nil
}

// packetLimit is the most bytes a query may take: the server's
// max_allowed_packet, or the DSN's maxAllowedPacket (dsn) where that is
// lower (server is then the server's).
type packetLimit struct {
	bytes, server int64
	dsn           bool
}

// committedReads returns connect's connector for cfg once it has set on cfg
// that its sessions read only what has committed, whatever the DSN or the
// server's default say: under READ UNCOMMITTED, a read of the log, its head
// or a stream would see another process's append between its writes and
// its COMMIT, which a rollback can then take back and other events take the
// place of. (The store's reads are single statements outside any
// transaction, for which READ COMMITTED and the stricter levels read the
// same.) It connects once, to learn the variable's name on the server.
func committedReads(ctx context.Context, cfg *mysql.Config, connect func(*mysql.Config) (driver.Connector, error)) (driver.Connector, error) {
	c, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	// MySQL 8 and MariaDB 11.1+ call it transaction_isolation; older
	// MariaDB only tx_isolation.
	name := "transaction_isolation"
	if err := db.QueryRowContext(ctx, "SELECT @@transaction_isolation").Scan(new(string)); err != nil {
		if !isMySQLError(err, errUnknownVariable) {
			return nil, err
		}
		name = "tx_isolation"
	}
	// Under either name, in any case (see writerConnector).
	dropParam(cfg, "tx_isolation")
	dropParam(cfg, "transaction_isolation")
	setParam(cfg, name, "'READ-COMMITTED'")
	return connect(cfg)
}

// committedSessions sets on s.cfg that every session of the store reads
// only what has committed (committedReads), the Galera probes' included,
// and returns the connector of its pools.
func (s *Store) committedSessions(ctx context.Context) (driver.Connector, error) {
	connector, err := committedReads(ctx, s.cfg, s.connector)
	if err != nil {
		return nil, err
	}
	if set, err := rowBinlog(ctx, s.cfg, s.connector); err != nil {
		return nil, err
	} else if set {
		if connector, err = s.connector(s.cfg); err != nil {
			return nil, err
		}
	}
	if s.galera != nil {
		if err := s.galera.reopenProbes(s.cfg); err != nil {
			return nil, err
		}
	}
	return connector, nil
}

// rowBinlog sets on cfg that every session of the store logs its writes as
// rows (binlog_format ROW), if the server's binary log is on and the session
// would log them as statements (binlog_format STATEMENT, the server's or the
// DSN's), or returns why it cannot. Two reasons:
//   - InnoDB refuses every write of a READ COMMITTED session, which every
//     session of the store is (committedReads), when it would be logged as a
//     statement (error 1665): the migration, and every append, would fail.
//   - A statement is replayed by a replica for itself, and the guarded
//     head's UPDATE reads the clock (SYSDATE, dialect.go): the replica's
//     log_head would hold another time than the primary's. (Every other
//     value of an append's writes is a literal or a user variable, which the
//     log carries with the statement; positions are given, none is an
//     AUTO_INCREMENT.)
//
// MIXED and ROW log such writes as rows already. Setting a session's
// binlog_format needs a privilege (BINLOG ADMIN or SUPER on MariaDB,
// SESSION_VARIABLES_ADMIN on MySQL): without it, start-up is refused with
// the ways out, rather than every write failing. It reports whether it set
// binlog_format on cfg.
func rowBinlog(ctx context.Context, cfg *mysql.Config, connect func(*mysql.Config) (driver.Connector, error)) (bool, error) {
	c, err := connect(cfg)
	if err != nil {
		return false, err
	}
	db := sql.OpenDB(c)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var logBin bool
	var format string
	if err := conn.QueryRowContext(ctx, "SELECT @@log_bin, @@SESSION.binlog_format").Scan(&logBin, &format); err != nil {
		return false, err
	}
	if !logBin || !strings.EqualFold(format, "STATEMENT") {
		return false, nil
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION binlog_format = 'ROW'"); err != nil {
		if isMySQLError(err, errAccessDenied) {
			return false, fmt.Errorf("the server's binary log is on with binlog_format=STATEMENT, under which the store cannot write "+
				"(InnoDB refuses a READ COMMITTED session's writes logged as statements), and the DSN's user may not set its sessions' binlog_format to ROW: "+
				"set binlog_format=ROW (or MIXED) on the server, or grant the user BINLOG ADMIN (MariaDB) or SESSION_VARIABLES_ADMIN (MySQL): %w", err)
		}
		return false, err
	}
	setParam(cfg, "binlog_format", "'ROW'")
	return true, nil
}

// normalise sets what every connection of the store needs on cfg, parsed
// from dsn.
func normalise(dsn string, cfg *mysql.Config) {
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// The append transaction reads the server's clock with SYSDATE, which
	// answers in the session's time zone.
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	setParam(cfg, "time_zone", "'+00:00'")
	// Each statement outside a transaction commits, and COMMIT ends a
	// transaction and nothing more, whatever the server's defaults or the
	// DSN say: with autocommit off, a read would stay in the transaction it
	// began and see nothing written after it; with completion_type RELEASE,
	// COMMIT would close the session under the writer's batch, and with
	// CHAIN, begin a transaction that the session's next reads stay in.
	setParam(cfg, "autocommit", "1")
	setParam(cfg, "completion_type", "'NO_CHAIN'")
	// The SQL text is read as UTF-8, whatever the DSN's charset or
	// character_set_* say: values are interpolated into it escaped with
	// backslashes (below), and in a multi-byte character set such as SJIS,
	// GBK or Big5 a byte before an escaping backslash makes one character
	// of the two, so that the quote after it ends the string: an id's
	// random bytes, or a client's data, would be read as other values or
	// as SQL. (Set after the driver's SET NAMES for a DSN's charset.)
	for _, name := range []string{"character_set_client", "character_set_connection", "character_set_results"} {
		setParam(cfg, name, "'utf8mb4'")
	}
	// A SELECT without LIMIT returns every row it finds, whatever the DSN
	// or the server's default sql_select_limit: cut short, the writer's
	// read of a retry's stored events, or of a lost COMMIT's, would find
	// only some of them (and refuse the retry as a duplicate, or settle
	// the COMMIT as not committed and write it again).
	setParam(cfg, "sql_select_limit", "18446744073709551615")
	// Client-side interpolation makes a statement one round trip instead of
	// three (prepare, execute, close); the driver still escapes every value.
	if !strings.Contains(dsn, "interpolateParams=") {
		cfg.InterpolateParams = true
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
}

// setParam sets the session variable name on every connection of cfg,
// in place of the DSN's in any case: the driver sends every spelling, in
// map order, and the server takes any case.
func setParam(cfg *mysql.Config, name, value string) (was string, ok bool) {
	was, ok = dropParam(cfg, name)
	cfg.Params[name] = value
	return was, ok
}

// dropParam removes the session variable name from cfg, in any case.
func dropParam(cfg *mysql.Config, name string) (was string, ok bool) {
	for n, v := range cfg.Params {
		if strings.EqualFold(n, name) {
			delete(cfg.Params, n)
			was, ok = v, true
		}
	}
	return was, ok
}

// writerConnector is the connector of the writer's own pool: its sessions
// run READ COMMITTED and take several statements in one query (the driver
// still escapes every value it interpolates).
func (s *Store) writerConnector(ctx context.Context) (driver.Connector, error) {
	cfg := s.cfg.Clone()
	cfg.MultiStatements = true
	cfg.InterpolateParams = true
	// MySQL 8 and MariaDB 11.1+ call the variable transaction_isolation;
	// older MariaDB only tx_isolation.
	name := "transaction_isolation"
	if err := s.primary.QueryRowContext(ctx, "SELECT @@transaction_isolation").Scan(new(string)); err != nil {
		name = "tx_isolation"
	}
	// Under either name, in any case: a server with both (MySQL 5.7,
	// MariaDB 11.1+) would get the DSN's and this one in one SET, in map
	// order.
	dropParam(cfg, "tx_isolation")
	dropParam(cfg, "transaction_isolation")
	setParam(cfg, name, "'READ-COMMITTED'")
	// Strict, whatever the server's or the DSN's sql_mode: a group sent in
	// one round trip stops on a NULL time its guard sets (dialect.go), and
	// an INSERT of several rows would store that NULL as zero outside
	// strict mode. The writer's own writes are never truncated anyway.
	mode := "@@sql_mode"
	if was, ok := setParam(cfg, "sql_mode", ""); ok {
		mode = sqlModeValue(was)
	}
	cfg.Params["sql_mode"] = "CONCAT_WS(',', NULLIF(" + mode + ", ''), 'STRICT_TRANS_TABLES')"
	// A session idle inside its transaction, holding the log's lock for
	// every instance, is ended by the server (idle.go).
	var err error
	if s.idleVar, s.idleSeconds, err = boundIdleTransactions(ctx, s.primary, cfg, s.writerIdle, s.idleAsOnMySQL); err != nil {
		return nil, err
	}
	// On a Galera node, the append transaction's reads wait until the node
	// has applied every transaction the cluster committed before them: a
	// node just chosen (after a failover, or behind a proxy) must not plan
	// an append on a stale log head or stream version.
	// A read of wsrep_on refused is no sign of a server without Galera:
	// galeraNode reads it otherwise, and fails the start where it cannot.
	galera, err := galeraNode(ctx, s.primary)
	if err != nil {
		return nil, err
	}
	if galera {
		if _, set := cfg.Params["wsrep_sync_wait"]; !set {
			cfg.Params["wsrep_sync_wait"] = "1"
		}
	}
	return s.connector(cfg)
}

// sqlModeValue is a DSN's sql_mode as an SQL expression: `SET sql_mode = X`
// takes a quoted string, DEFAULT, or a bare word, which in an expression
// would name a column.
func sqlModeValue(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0]:
		return v
	case strings.EqualFold(v, "DEFAULT"):
		return "@@GLOBAL.sql_mode"
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// connector makes a pool's connections with cfg: to the chosen node of a
// Galera cluster, else to the only server.
func (s *Store) connector(cfg *mysql.Config) (driver.Connector, error) {
	if s.galera != nil {
		return s.galera.connector(cfg)
	}
	c, err := newConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure MySQL connector: %w", err)
	}
	return c, nil
}

// translate is the package's translate for the store while it serves,
// naming its database where the server's error does not (a session whose
// database was dropped under it: "No database selected"), and the
// settings of its sessions that a privilege refused may be for
// (deniedSetting). The first such
// error is logged, once, at ERROR, with what to do: every request that
// needs what is missing fails with it until an operator restores it.
func (s *Store) translate(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return headRowMissing(err)
	}
	var denied *mysql.MySQLError
	if errors.As(err, &denied) && (denied.Number == errTableAccess || denied.Number == errColumnAccess) {
		// Refused a privilege on the database's tables: the sessions open
		// now keep the privileges they opened with, a grant since
		// included (regrant.go). (Not 1227: a setting each new session
		// makes is refused as it opens, and the sessions already open
		// serve; ending them would refuse everything.)
		what := privilegeDenied(denied)
		s.privileges.refused(what.Privilege + " " + what.Table)
	}
	if isMySQLError(err, errAccessDenied) {
		if errors.Is(err, eventstore.ErrUnavailable) {
			return err // translated already (the fence's, within an append's)
		}
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, deniedSetting(err, s.cfg))
	}
	err = translate(err)
	var me *eventstore.MissingError
	if !errors.As(err, &me) {
		return err
	}
	if me.Database == "" {
		me.Database = s.cfg.DBName
	}
	if me.Table != "" && s.databaseGone(me.Database) {
		// A pooled session whose database was dropped whole meets its
		// tables missing (1146), where a new one is refused the database
		// (1049): say the database is missing on every path alike, whose
		// remedy (CREATE DATABASE, then api migrate) is not a table's.
		me.Table = ""
	}
	if me.Index != "" {
		// Only the reads that force it fail, and making it again mends
		// them: no restore, no restart.
		if s.indexSaid.CompareAndSwap(false, true) {
			s.log.Error("an index of the store's is missing while the service runs: the reads of the log filtered on stream or event types "+
				"that force it, those naming several stream or event types, answer 503 until it is made again; a filter on one name of each "+
				"kind is served (/readyz stays 200, and names it: every other request is served)",
				"missing", me.Error(), "database", s.cfg.DBName, "error", me.Err)
		}
		return err
	}
	if s.missingSaid.CompareAndSwap(false, true) {
		s.log.Error("the database's schema is missing, or part of it, while the service runs: every request that needs it answers 503, and /readyz too, "+
			"until it is restored (a database dropped whole may be made anew, empty: CREATE DATABASE, then `api migrate`; a table may not), and the service restarted", "missing", me.Error(), "database", s.cfg.DBName, "error", me.Err)
	}
	return err
}

// goneLook is databaseGone's last answer, and when it was found.
type goneLook struct {
	mu   sync.Mutex // held through a look: one at a time
	db   string
	at   time.Time
	gone bool
}

// goneFor is how long databaseGone's answer serves the tables found
// missing after it: a burst of requests meeting one dropped database
// opens one session, not one each.
const goneFor = time.Second

// databaseGone reports whether the server says the database named db does
// not exist (none of information_schema's schemata, or the new session
// refused it: 1049); false if it is there, or the look failed otherwise.
// It is asked only of a table found missing: an error's path, not a
// request's. It looks on a session of its own, made for the look and
// closed after it, one look at a time: it asked the pool the live feed,
// the fence and /readyz share, and with those busy waited out its bound
// and said a table was missing.
func (s *Store) databaseGone(db string) bool {
	if s.sessions == nil {
		return false // not open yet
	}
	g := &s.gone
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == db && time.Since(g.at) < goneFor {
		return g.gone
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	look := sql.OpenDB(s.sessions)
	defer look.Close()
	var n int
	err := look.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db).Scan(&n)
	gone := n == 0
	if err != nil {
		gone = isMySQLError(err, errUnknownDB)
	}
	g.db, g.at, g.gone = db, time.Now(), gone
	return gone
}

// headRowMissing is the error of a read of the log's head that found no
// row: the only statements of the SQL store's whose missing row reaches
// its Translate (a stream or an event not found is its own error first).
// A restore under way (mariadb < dump.sql drops log_head, makes it again,
// and inserts its row after) or a change by hand; nothing was written.
func headRowMissing(err error) error {
	return fmt.Errorf("%w: the log's head row (log_head, id 1) is missing: the database is being restored, or was changed by hand (%w)",
		eventstore.ErrUnavailable, err)
}

// readyTables reads no row, but needs every table the store's appends and
// reads use, and every column of them, and looks each table's primary key
// up (for a key no row has: the server reads the const tables first, and
// finds the WHERE impossible), which opens its file: a table dropped under
// the store, a column missing from an older schema restored under it, or a
// table's tablespace discarded, fails it (the ping alone does not see one,
// nor the database dropped under a pooled session). So does an index that
// the reads of the log force (FORCE INDEX), dropped: the server looks a
// forced index up as it opens the table, before it finds the WHERE
// impossible, and refuses the statement (1176) as it refuses those reads.
//
// An index missing fails only the filtered reads: Ping then reads the
// tables without it (readyTablesAlone), a round trip more while it is
// missing only.
const readyTables = readyColumns + "FROM log_head, events, streams, durability_fence, " +
	"events st FORCE INDEX (events_stream_type_position), events et FORCE INDEX (events_event_type_position), " +
	"events pair FORCE INDEX (events_stream_type_event_type_position) " + readyWhere +
	" AND st.stream_type = '' AND st.position = 0 AND et.event_type = '' AND et.position = 0 " +
	"AND pair.stream_type = '' AND pair.event_type = '' AND pair.position = 0"

// readyTablesAlone is readyTables without the indexes that it forces.
const readyTablesAlone = readyColumns + "FROM log_head, events, streams, durability_fence " + readyWhere

const (
	readyColumns = "SELECT log_head.id, log_head.position, log_head.recorded_at, log_head.commit_id, " +
		"events.position, events.event_id, events.stream_id, events.stream_version, events.stream_type, events.event_type, " +
		"events.data, events.metadata, events.recorded_at, events.batch_size, " +
		"streams.stream_id, streams.stream_type, streams.created_at, durability_fence.id, durability_fence.counter "
	readyWhere = "WHERE log_head.id = 0 AND events.position = 0 AND streams.stream_id = '' AND durability_fence.id = 0"
)

// replicaReady reads no row, but needs the tables the reads read on a read
// replica, each looked up by its primary key (as readyTables): a privilege
// on them refused there fails it as it fails the reads.
// It forces the indexes that the reads of the log filtered on stream or
// event types force, as readyTables does on the primary: one missing on
// the replica only fails those reads there (translateReplica), and Ping
// names it, reading the tables without them then (replicaReadyAlone).
const replicaReady = "SELECT log_head.position, events.position, streams.stream_id FROM log_head, events, streams, " +
	"events st FORCE INDEX (events_stream_type_position), events et FORCE INDEX (events_event_type_position), " +
	"events pair FORCE INDEX (events_stream_type_event_type_position) " + replicaReadyWhere +
	" AND st.stream_type = '' AND st.position = 0 AND et.event_type = '' AND et.position = 0 " +
	"AND pair.stream_type = '' AND pair.event_type = '' AND pair.position = 0"

// replicaReadyAlone is replicaReady without the indexes that it forces.
const replicaReadyAlone = "SELECT log_head.position, events.position, streams.stream_id FROM log_head, events, streams " + replicaReadyWhere

const replicaReadyWhere = "WHERE log_head.id = 0 AND events.position = 0 AND streams.stream_id = ''"

// unwrittenColumns finds the columns of the tables the store inserts rows
// into that take neither NULL nor a default (nor a value of their own:
// auto-increment, generated): unless the store writes them (written),
// every INSERT, and so every append, fails (1364).
const unwrittenColumns = "SELECT table_name, column_name FROM information_schema.COLUMNS WHERE table_schema = DATABASE() " +
	"AND table_name IN ('events', 'streams', 'durability_fence') AND is_nullable = 'NO' AND column_default IS NULL " +
	"AND extra NOT LIKE '%auto_increment%' AND extra NOT LIKE '%GENERATED%'"

// written are the columns the store's INSERTs write, as table.column.
var written = map[string]bool{
	"events.position": true, "events.event_id": true, "events.stream_id": true, "events.stream_version": true,
	"events.stream_type": true, "events.event_type": true, "events.data": true, "events.metadata": true,
	"events.recorded_at": true, "events.batch_size": true,
	"streams.stream_id": true, "streams.stream_type": true, "streams.created_at": true,
	"durability_fence.id": true, "durability_fence.counter": true,
}

// Ping implements eventstore.Store: the live feed's connections answer (a
// read replica's, where there is one, reading its tables: see ReplicaLag
// for the rest of what /readyz asks of it), and the primary has
// the store's tables. A table, or the database, dropped under the store is
// an error wrapping eventstore.MissingError. A column the store does not
// write, NOT NULL and without a default (a schema of another release
// restored under it), is an eventstore.UnwrittenColumnError naming its
// table and column: the appends that insert into that table fail, reads
// go on. A column that takes NULL or has a default is harmless, and passes.
// It, and an index that the filtered reads force, missing (the
// MissingError naming it), are partial findings, returned (joined) only
// once the rest passed (eventstore.Store's Ping).
// While the stall watch holds the database stalled, or the read replica's
// own watch the replica, it fails at once with the watch's refusal
// (sqlstore's Store.Stall, Store.ReadStall), sending nothing.
func (s *Store) Ping(ctx context.Context) error {
	// With no read replica the feed's pool is the primary's, and the
	// queries below answer for it: a ping of its own would be a round trip
	// more for each /readyz. The stall watch is asked all the same: while
	// it holds the database stalled every append and read is refused, and
	// the queries below would wait out ctx (or pass, on sessions that
	// answer while the watch's own did not).
	if err := s.Store.Stall(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	// So is the read replica's own watch, for the queries on the replica.
	if err := s.Store.ReadStall(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	// An index missing is returned last, once the rest passed: it fails
	// only the filtered reads, and /readyz stays 200 for it; an outage
	// behind it (a table dropped, a head behind its events) is said. The
	// primary's is said before the replica's: the replica's comes from it.
	var partial, replicaPartial error
	if s.feed != s.primary {
		// The read replica's tables and the indexes its reads force, in
		// the round trip its ping took: a ping read none, and passed while
		// the replica refused every read SELECT (and a session of the
		// feed's that it refuses ends the reads' opened before it, as a
		// read's does: regrant.go).
		err := s.replicaQuery(ctx, replicaReady)
		if me := (*mysql.MySQLError)(nil); errors.As(err, &me) && me.Number == errNoSuchKey {
			replicaPartial = fmt.Errorf("ping: %w", s.replicaIndexMissing(me))
			err = s.replicaQuery(ctx, replicaReadyAlone)
		}
		if err != nil {
			return fmt.Errorf("ping: %w", s.translateReplica(err))
		}
	}
	if err := s.readyQuery(ctx, readyTables); err != nil {
		if missing := (*eventstore.MissingError)(nil); !errors.As(err, &missing) || missing.Index == "" {
			return fmt.Errorf("ping: %w", err)
		}
		partial = fmt.Errorf("ping: %w", err)
		if err := s.readyQuery(ctx, readyTablesAlone); err != nil {
			return fmt.Errorf("ping: %w", err)
		}
	} else {
		s.indexSaid.Store(false) // all there: should one go again, say so again
	}
	s.missingSaid.Store(false)
	// A column the store does not write refuses only the appends that
	// insert into its table: reads go on, so it is a partial finding too,
	// returned with the others once the rest passed (/readyz stays 200).
	var unwritten error
	if err := s.unwritten(ctx); err != nil {
		if !errors.As(err, new(*eventstore.UnwrittenColumnError)) {
			return fmt.Errorf("ping: %w", err)
		}
		unwritten = fmt.Errorf("ping: %w", err)
	}
	if err := s.headBehind(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	s.behindSaid.Store(false)
	return errors.Join(unwritten, partial, replicaPartial)
}

// replicaQuery runs q, a statement of Ping's that reads no row, on the
// read replica's pool.
func (s *Store) replicaQuery(ctx context.Context, q string) error {
	return s.readOnce(ctx, "ping", s.feed, func() error {
		rows, err := s.feed.QueryContext(ctx, q)
		if err == nil {
			err = rows.Close()
		}
		return err
	})
}

// readyQuery runs q, a statement of Ping's that reads no row, on the
// primary's pool.
func (s *Store) readyQuery(ctx context.Context, q string) error {
	return s.translate(s.readOnce(ctx, "ping", s.primary, func() error {
		rows, err := s.primary.QueryContext(ctx, q)
		if err == nil {
			err = rows.Close()
		}
		return err
	}))
}

// readOnce runs read, a read of the store's own on pool (Ping's, the read
// replica's lag and status), and once more where its connection was lost
// once its statement had gone out (readAgain: a session the server or a
// proxy closed while it sat idle in the pool, which the driver's check
// before a statement did not see, and database/sql does not retry), as
// sqlstore's reads are sent again (eachRow): never past ctx's end, nor
// past the pool's DSN's readTimeout, which the first may have run out (the
// driver says both alike). read returns the driver's error untranslated.
// read sends one statement; each sending is counted as a statement of kind.
func (s *Store) readOnce(ctx context.Context, kind string, pool *sql.DB, read func() error) error {
	sent := time.Now()
	s.m.Statement(kind)
	err := read()
	if err != nil && ctx.Err() == nil && readAgain(err) {
		if within := s.readTimeoutOf(pool); within <= 0 || time.Since(sent) < within {
			s.m.Statement(kind) // sent again: counted again
			err = read()
		}
	}
	return err
}

// readTimeoutOf is the DSN's readTimeout of pool's sessions: the read
// replica's for its pools, else the primary's.
func (s *Store) readTimeoutOf(pool *sql.DB) time.Duration {
	cfg := s.cfg
	if s.replica != nil && (pool == s.feed || pool == s.reads) {
		cfg = s.replica
	}
	if cfg == nil {
		return 0
	}
	return cfg.ReadTimeout
}

// headBehind returns an error wrapping eventstore.ErrDamaged (and
// ErrUnavailable) if the log's head is behind the last position in events
// (or a row written there without the log's lock, which looks the same),
// saying how to mend it; nil if it is not; and headRowMissing's error if
// the head's row is missing (a restore under way, a change by hand: every
// append fails, so /readyz must too). A head behind its events (a
// restore of log_head from an older dump than events', tables restored
// one by one) makes every append fail on a position taken, and no retry
// mends it: every instance hands out the same taken positions again. It is
// logged once at ERROR, until Ping finds the head right.
func (s *Store) headBehind(ctx context.Context) error {
	var head, last int64
	err := s.readOnce(ctx, "ping", s.primary, func() error {
		return s.primary.QueryRowContext(ctx, sqlstore.HeadAndLast).Scan(&head, &last)
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return headRowMissing(err)
	case err != nil:
		return s.translate(err)
	case head >= last:
		return nil
	}
	damage := fmt.Errorf("%w: %w: %w: the log's head (log_head.position = %d) is behind the last position in events (%d): "+
		"events are stored that the head does not count (a restore from dumps taken apart, log_head's older than events', "+
		"or something writing to events without the log lock), and every append fails on a position taken; "+
		"with no instance appending meanwhile, mend it with %s (or restore all the tables from one consistent dump, --single-transaction)",
		eventstore.ErrUnavailable, eventstore.ErrDamaged, eventstore.ErrHeadBehind, head, last, sqlstore.MendHeadRepair)
	if s.behindSaid.CompareAndSwap(false, true) {
		s.log.Error("the log's head is behind its events: every append answers 503, and /readyz too, until it is mended",
			"database", s.cfg.DBName, "log_head", head, "last_event_position", last, "error", damage)
	}
	return damage
}

// unwritten returns an *eventstore.UnwrittenColumnError naming the first
// column of unwrittenColumns that the store does not write, if there is one.
func (s *Store) unwritten(ctx context.Context) error {
	var cols [][2]string
	err := s.readOnce(ctx, "ping", s.primary, func() error {
		cols = cols[:0]
		rows, err := s.primary.QueryContext(ctx, unwrittenColumns)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var table, column string
			if err := rows.Scan(&table, &column); err != nil {
				return err
			}
			cols = append(cols, [2]string{table, column})
		}
		return rows.Err()
	})
	if err != nil {
		return s.translate(err)
	}
	for _, c := range cols {
		if !written[c[0]+"."+c[1]] {
			return &eventstore.UnwrittenColumnError{Table: c[0], Column: c[1]}
		}
	}
	return nil
}

// runBeforeCommit runs the hook a test set, if any.
func (s *Store) runBeforeCommit() {
	if f := s.beforeCommit.Load(); f != nil {
		(*f)()
	}
}

// Migrate brings the schema up to date; see migrations.ApplyMySQL.
func (s *Store) Migrate(ctx context.Context) error {
	// A database without the version table has no log: one is made now.
	var versioned int
	if err := s.primary.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
		migrations.VersionTable).Scan(&versioned); err != nil {
		return fmt.Errorf("look for the store's tables: %w", translateAtStart(err, s.cfg))
	}
	// A new log whose making stopped partway (a first start stopped by a
	// signal in its migrations, `api migrate` refused an ALTER) has its
	// version table: it is told by its events, none yet.
	newLog := versioned == 0 || s.unfinishedNewLog(ctx)
	if err := migrations.ApplyMySQL(ctx, s.primary, s.log); err != nil {
		if isMySQLError(err, errTableAccess) {
			return s.mayNotMigrate(ctx, err, newLog)
		}
		return translateAtStart(err, s.cfg)
	}
	if newLog {
		// The one trace of a log started again at position 1 where one was
		// expected (a mistyped database name that exists, a database
		// dropped and made again), as the embedded store's start says.
		// Under `api migrate` no server runs to be stopped: the advice is
		// to start none on it.
		do := "stop the server now"
		if s.migrateOnly {
			do = "start no server on it"
		}
		s.log.Warn(fmt.Sprintf("no log found in database %s on %s: a new one was created; if a log was expected here (a mistyped database name, "+
			"a database dropped and made again), %s, before clients take its positions for the old log's", s.cfg.DBName, s.Addr(), do),
			"database", s.cfg.DBName, "addr", s.Addr())
	}
	// Every migration is recorded now, and none is looked at again: a key
	// dropped while the service was stopped would leave the store running
	// without its guard (a unique key) or scanning (another), as the
	// embedded store's start refuses too.
	if err := migrations.CheckKeysMySQL(ctx, s.primary, s.log); err != nil {
		return translateAtStart(err, s.cfg)
	}
	// Under `api migrate` only the writes' privileges go unchecked (a
	// read-only or an owner's DSN may run it): a table or column the
	// store writes found missing fails it as it fails a start.
	if err := s.checkWrites(ctx); err != nil && !(s.migrateOnly && errors.Is(err, errWritesDenied)) {
		return err
	}
	// A log head behind its events is said at start-up (logged once):
	// the instance starts, not ready until it is mended (Ping), as one
	// running when it was restored so is. The look only says: a failure of
	// it fails no start.
	s.headBehind(ctx) //nolint:errcheck // logged there
	if s.galera != nil {
		// The lease table exists now: take the lease, or follow it, at once.
		if _, err := s.galera.choose(ctx); err != nil {
			return err
		}
	}
	return nil
}

// mayNotMigrate is Migrate's error for err, a migration's statement (a
// CREATE, ALTER or index) refused to the DSN's user (1142): the README's
// least-privilege serving user, on a database whose tables do not exist
// yet, are a new log's made partway (newLog: by this run or an earlier
// one, before the first event), or are of an earlier release. The server's
// words name the command, the user and the table, never the password.
func (s *Store) mayNotMigrate(ctx context.Context, err error, newLog bool) error {
	what := "holds the store's tables of an earlier release, and migrating them"
	var tables int
	if cerr := s.primary.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&tables); cerr == nil && tables == 0 {
		what = "has none of the store's tables yet, and creating them"
	} else if newLog {
		what = "holds no log yet, only some of a new log's tables (made by this run or one before it that stopped partway), and completing them"
	}
	var me *mysql.MySQLError
	errors.As(err, &me) // the server's words, without the migration tool's around them
	return refusal{fmt.Errorf("the database %s %s needs CREATE, ALTER and INDEX on it, which the DSN's user may not: "+
		"run `api migrate` once with an owner's DSN (then serve with this one), or grant them (GRANT CREATE, ALTER, INDEX ON `%s`.* TO …): %w",
		s.cfg.DBName, what, s.cfg.DBName, me)}
}

// unfinishedNewLog reports whether the database holds a new log whose
// migrations stopped partway: its version table does not record the newest
// migration, and it holds no event (no events table, or an empty one). An
// empty log of an earlier release, being upgraded, is one too: clients can
// hold no position of it. A look that fails (a version table of another
// application's, which the migration then refuses) says no.
func (s *Store) unfinishedNewLog(ctx context.Context) bool {
	var recorded int64
	if err := s.primary.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM "+migrations.VersionTable+" WHERE is_applied").
		Scan(&recorded); err != nil || recorded >= int64(migrations.Latest("mysql")) {
		return false
	}
	var tables int
	if err := s.primary.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'events'").
		Scan(&tables); err != nil {
		return false
	}
	if tables == 0 {
		return true
	}
	var some bool
	if err := s.primary.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM events)").Scan(&some); err != nil {
		return false
	}
	return !some
}

// writeProbes are the writes the store makes, each as a statement that
// changes no row (WHERE FALSE) but that the server refuses, as it would the
// write, to a user without the privileges it needs (1142, 1143): what
// checkWrites runs.
var writeProbes = []struct{ what, sql string }{
	{"an append's events", "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size) " +
		"SELECT position, event_id, stream_id, stream_version, stream_type, event_type, data, metadata, recorded_at, batch_size FROM events WHERE FALSE"},
	{"an append's new streams", "INSERT INTO streams (stream_id, stream_type, created_at) SELECT s.stream_id, s.stream_type, s.created_at FROM streams s WHERE FALSE " +
		"ON DUPLICATE KEY UPDATE stream_type = VALUES(stream_type), created_at = VALUES(created_at)"},
	{"an append's move of the log's head", "UPDATE log_head SET position = position, commit_id = commit_id, recorded_at = recorded_at WHERE FALSE"},
}

// fenceProbes are the durability fence's write (fenceWrite, an INSERT …
// ON DUPLICATE KEY UPDATE), as writeProbes.
var fenceProbes = []struct{ what, sql string }{
	{"the durability fence's write", "INSERT INTO durability_fence (id, counter) SELECT id, counter FROM durability_fence WHERE FALSE"},
	{"the durability fence's write", "UPDATE durability_fence SET counter = counter + 1 WHERE FALSE"},
}

// leaseProbe is a Galera writer's lease's move, as writeProbes.
var leaseProbe = struct{ what, sql string }{"the Galera writer lease's move",
	"UPDATE writer_lease SET node = node, epoch = epoch WHERE FALSE"}

// checkWrites refuses a DSN's user who may not write what the store writes:
// such a store would start and answer every append, and every read that
// waits for the durability fence, with the server's refusal. The error
// names each write denied and the server's words for it (which name the
// user and the table, never the password), and does not wrap
// eventstore.ErrUnavailable: no wait mends it.
func (s *Store) checkWrites(ctx context.Context) error {
	probes := writeProbes
	if s.fence.Load() {
		probes = append(probes[:len(probes):len(probes)], fenceProbes...)
	}
	if s.galera != nil {
		probes = append(probes[:len(probes):len(probes)], leaseProbe)
	}
	var denied []string
	for _, p := range probes {
		_, err := s.writes.ExecContext(ctx, p.sql)
		switch {
		case isMySQLError(err, errTableAccess, errColumnAccess):
			var me *mysql.MySQLError
			errors.As(err, &me)
			denied = append(denied, fmt.Sprintf("%s (%s)", p.what, me.Message))
		case isMySQLError(err, errReadOnly, errReadOnlyMode, errReadOnlyTx, errTableReadOnly):
			// A server read-only for now (a switchover) tells nothing of
			// the user's privileges; the store starts, and serves reads,
			// as it did before it checked.
			s.log.Warn("the database is read-only: the DSN's user's write privileges were not checked", "error", err)
			return nil
		case isMySQLError(err, errNoSuchTable, errUnknownColumn, errDiscarded, errNotInEngine):
			// The migrations record the table, and its columns, as made:
			// it was dropped, or altered by hand. No wait mends it, nor
			// does migrate, which makes no step twice.
			return fmt.Errorf("a table or column the store writes (%s) is missing, though schema_migrations records every step as applied: "+
				"was it dropped? restore the database from a backup (`api migrate` does not make it again): %w", p.what, err)
		case err != nil:
			return fmt.Errorf("check that the DSN's user may write (%s): %w", p.what, translate(err))
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("%w: %s are denied; "+
			"grant it SELECT, INSERT and UPDATE on the database %s (GRANT SELECT, INSERT, UPDATE ON `%s`.* TO …)",
			errWritesDenied, strings.Join(denied, "; "), s.cfg.DBName, s.cfg.DBName)
	}
	return nil
}

// errWritesDenied is checkWrites' error for a DSN's user refused a write
// the store makes.
var errWritesDenied = errors.New("the DSN's user may not write what the store writes")

// Close finishes the appends already handed to the writer, refuses new ones
// and closes the database pools. It returns nil: a pooled session the server
// ended already is no failure to close (closeDBs).
func (s *Store) Close() error {
	s.Store.Close()
	s.seekMu.Lock()
	s.closed = true
	s.seekMu.Unlock()
	s.seekers.Wait()
	s.closeDBs()
	return nil
}

// closeDBs closes the pools. What fails there is only the driver's goodbye
// (COM_QUIT) to a session the server, or a proxy, already ended (its
// wait_timeout, an idle cut): the driver closes the socket all the same,
// and nothing was in flight. So it is no failure of Close (a stop's exit
// status), and is logged at DEBUG only.
func (s *Store) closeDBs() {
	closed := map[*sql.DB]bool{}
	for _, db := range []*sql.DB{s.reads, s.writes, s.feed, s.primary, s.probe} {
		if db != nil && !closed[db] {
			closed[db] = true
			if err := db.Close(); err != nil {
				s.log.Debug("close the database pools: a session was ended already", "error", err)
			}
		}
	}
	if s.galera != nil {
		s.galera.close()
	}
}

// SetDriverLogger sends the driver's own log lines (such as dropping a dead
// idle connection) to log. The setting is process-wide: call it once, early.
func SetDriverLogger(log *slog.Logger) {
	_ = mysql.SetLogger(driverLogger{log}) // fails only for a nil logger
}

// driverLogger adapts slog to the driver's logger interface.
type driverLogger struct{ log *slog.Logger }

// Print logs one of the driver's lines, as a warning. A pooled session found
// dead before a request used it ("closing bad idle connection": a proxy's
// or the server's idle cut) is DEBUG: the driver takes another, and the
// request is served.
func (l driverLogger) Print(v ...any) {
	msg := "mysql driver: " + strings.TrimSpace(fmt.Sprint(v...))
	if strings.Contains(msg, "bad idle connection") {
		l.log.Debug(msg)
		return
	}
	l.log.Warn(msg)
}

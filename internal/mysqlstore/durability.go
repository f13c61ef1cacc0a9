package mysqlstore

import (
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
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// ErrNotDurable is returned by Open when the server's settings let an
// acknowledged append be lost in a crash, and by an append refused for
// them while the service runs. It is eventstore.ErrNotDurable, which the
// HTTP layer tells clients of.
var ErrNotDurable = eventstore.ErrNotDurable

// durability is what the server's settings mean for acknowledged writes.
type durability struct {
	flushAtCommit int64 // innodb_flush_log_at_trx_commit
	logBin        bool
	syncBinlog    int64
	// galera is set on a node of a Galera cluster (wsrep_on), of
	// clusterSize nodes in its Primary component at start-up
	// (sizeUnknown: below 0, the server refused to say).
	galera      bool
	clusterSize int64
}

// sizeUnknown is a Galera cluster's size where its node refused to say
// (readDurability): no other node's copy is counted on.
const sizeUnknown = -1

// replicated reports whether an acknowledged commit is also on other
// nodes: a Galera cluster of two nodes or more. A commit is acknowledged
// there once certified and delivered to every node of the Primary
// component, so losing a node, or crashing all but one, loses nothing
// acknowledged whatever each node's disk settings.
func (d durability) replicated() bool { return d.galera && d.clusterSize >= 2 }

// relaxed lists the settings that let a node lose its last commits in a
// crash; on a replicated cluster they cost something only when every node
// crashes at once.
func (d durability) relaxed() []string {
	var r []string
	if d.flushAtCommit != 1 {
		r = append(r, fmt.Sprintf("innodb_flush_log_at_trx_commit is %d, not 1: InnoDB does not flush its log at each commit", d.flushAtCommit))
	}
	if d.logBin && d.syncBinlog != 1 {
		r = append(r, fmt.Sprintf("the binary log is on and sync_binlog is %d, not 1: a crash can drop committed transactions from it, and recovery then rolls them back", d.syncBinlog))
	}
	return r
}

// unsafe explains why an acknowledged commit could be lost, or is "". On a
// replicated Galera cluster nothing is: see log for what relaxed settings
// cost there.
func (d durability) unsafe() string {
	r := d.relaxed()
	if len(r) == 0 || d.replicated() {
		return ""
	}
	switch {
	case d.galera && d.clusterSize == sizeUnknown:
		return r[0] + " (the Galera node refused to say its cluster's size, wsrep_cluster_size: no other node's copy is counted on)"
	case d.galera:
		return r[0] + " (a Galera cluster of one node in its Primary component has no other copy)"
	}
	return r[0]
}

// log says at start-up what an acknowledged append means on this server.
func (d durability) log(log *slog.Logger, node string) {
	if !d.replicated() {
		acked, level := "committed and flushed to the server's disk", slog.LevelInfo
		writer := "the only node of the Galera cluster's Primary component"
		if d.clusterSize == sizeUnknown {
			writer = "the writer node of a Galera cluster of unknown size (counted as one node)"
		}
		if d.galera {
			acked = "committed on " + writer + ", and flushed to its disk"
		}
		// Started with unsafe durability allowed: the line is read (and
		// alerted on) as the statement of what an acknowledgement means,
		// so it must not say flushed where the settings say otherwise.
		if r := d.relaxed(); len(r) > 0 {
			acked, level = "committed, but NOT flushed to disk at each commit ("+strings.Join(r, "; ")+"): a crash of the database can lose it", slog.LevelWarn
			if d.galera {
				acked = "committed on " + writer + ", but NOT flushed to its disk at each commit (" +
					strings.Join(r, "; ") + "): a crash of that node can lose it"
			}
		}
		log.Log(context.Background(), level, "database durability", "node", node, "galera", d.galera, "acknowledged", acked,
			"innodb_flush_log_at_trx_commit", d.flushAtCommit, "log_bin", d.logBin, "sync_binlog", d.syncBinlog)
		return
	}
	cost := "none: every node flushes each commit to its disk"
	if r := d.relaxed(); len(r) > 0 {
		cost = strings.Join(r, "; ") + ": losing any node, or all but one, loses nothing acknowledged, but a crash of every node at once " +
			"(a power cut) can lose the last second or so of acknowledged appends"
	}
	log.Info("database durability", "node", node, "galera", true, "cluster_size", d.clusterSize,
		"acknowledged", "certified and replicated to every node of the Galera cluster's Primary component, and committed on the writer node; "+
			"the store writes through one node at a time",
		"crash_of_every_node_at_once", cost,
		"innodb_flush_log_at_trx_commit", d.flushAtCommit, "log_bin", d.logBin, "sync_binlog", d.syncBinlog)
}

func (s *Store) readDurability(ctx context.Context) (durability, error) {
	var d durability
	var logBin int64
	err := s.primary.QueryRowContext(ctx, "SELECT @@innodb_flush_log_at_trx_commit, @@log_bin, @@sync_binlog").Scan(&d.flushAtCommit, &logBin, &d.syncBinlog)
	if err != nil {
		return durability{}, fmt.Errorf("read durability settings: %w", translate(err))
	}
	d.logBin = logBin == 1
	if d.galera, err = galeraNode(ctx, s.primary); err != nil {
		return durability{}, err
	}
	if d.galera {
		var name, size string
		err := s.primary.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'").Scan(&name, &size)
		switch {
		case err == nil:
			d.clusterSize, _ = strconv.ParseInt(size, 10, 64)
		case sizeRefused(err):
			// Refused (a proxy's query rule, a privilege withheld), or
			// filtered out: the size only lets relaxed disk settings pass
			// (replicated), so the start goes on counting on no other
			// node's copy, as on a cluster of one. A passing outage (a
			// server that did not answer, one shutting down in a rolling
			// restart, too many connections, a session killed) is waited
			// out, as any other read's: taken for a refusal, it would fail
			// a start for good on a cluster whose relaxed settings its
			// size lets pass.
			d.clusterSize = sizeUnknown
			s.log.Warn("the Galera node refused to say its cluster's size (SHOW GLOBAL STATUS LIKE 'wsrep_cluster_size'): "+
				"an acknowledged append is counted as on the writer node only, and its disk settings must make it durable there "+
				"(innodb_flush_log_at_trx_commit=1, and sync_binlog=1 with the binary log on) unless unsafe durability is allowed; "+
				"let the store's user run it to have the cluster's other copies counted", "node", s.Node(), "error", err)
		default:
			return durability{}, fmt.Errorf("read wsrep_cluster_size: %w", translate(err))
		}
	}
	return d, nil
}

// sizeRefused reports whether err, the read of wsrep_cluster_size's, is a
// refusal to say it: no row (filtered out), a privilege or a proxy's rule
// (1227, 1148, 1142; MaxScale's firewall answers 1141), or any other server
// error the store does not take for a passing outage (translate).
func sizeRefused(err error) bool {
	var me *mysql.MySQLError
	switch {
	case errors.Is(err, sql.ErrNoRows), isMySQLError(err, errAccessDenied, errNotAllowed, errTableAccess):
		return true
	case errors.As(err, &me):
		return !errors.Is(translate(err), eventstore.ErrUnavailable)
	}
	return false
}

// galeraNode reports whether db's server is a Galera node (wsrep_on ON):
// MySQL has no wsrep variables; MariaDB without Galera has them, off. It
// reads SHOW GLOBAL VARIABLES, and where that is refused (a proxy's query
// rule, a MySQL-compatible server that filters it: every start failed
// there) @@GLOBAL.wsrep_on, as the live feed's sessions do (readCausally).
// Where both are refused it returns an error naming both: whether the
// store's reads must wait for a cluster's commits is not guessed.
func galeraNode(ctx context.Context, db *sql.DB) (bool, error) {
	var name, on string
	err := db.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").Scan(&name, &on)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err == nil:
		return strings.EqualFold(on, "ON"), nil
	case ctx.Err() != nil:
		return false, fmt.Errorf("read wsrep_on: %w", translate(err))
	}
	var v sql.NullInt64
	serr := db.QueryRowContext(ctx, "SELECT @@GLOBAL.wsrep_on").Scan(&v)
	switch {
	case isMySQLError(serr, errUnknownVariable):
		return false, nil // MySQL
	case serr != nil:
		return false, fmt.Errorf("read wsrep_on, whether the server is a Galera node (whose reads the store makes wait for the cluster's commits): "+
			"SHOW GLOBAL VARIABLES: %w; SELECT @@GLOBAL.wsrep_on: %w; let the store's user run one of them", err, translate(serr))
	}
	return v.Int64 == 1, nil
}

// settingsWatch is what a store knows of its primary's durability settings
// while it runs (watchDurability).
type settingsWatch struct {
	mu       sync.Mutex
	watching bool       // Open has read them, and chosen
	atOpen   durability // its Galera cluster, as Open found it
	allow    bool       // Options.AllowUnsafeDurability
	unsafe   string     // the reason last said, "" while durable
}

// watchFrom starts watching the settings of each new session of the
// primary's pools from those Open read (d): whether answers wait for a
// fence, and whether appends are refused, follow the server's settings.
func (s *Store) watchFrom(d durability, allow bool) {
	s.fence.Store(!d.logBin)
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	s.settings.watching, s.settings.atOpen, s.settings.allow, s.settings.unsafe = true, d, allow, d.unsafe()
}

// watchDurability makes each new session of a pool of the primary's read
// the server's durability settings before it is used. Open reads them once,
// but the server may restart under the store with others (an operator's
// restart with --skip-log-bin, innodb_flush_log_at_trx_commit=2): every
// session is then new, and none is used before its server's settings are
// known. The binary log turned off turns the fences on (and on, off) before
// anything is read on it; settings that let a crash take back an
// acknowledged commit refuse the writer's sessions, every append a 503
// naming the setting (as start-up refuses them; Options.AllowUnsafeDurability
// lets them through), and are logged once. A setting changed on a running
// server (SET GLOBAL) shows only on the sessions made after it. One query
// per new session: the pools keep their sessions up to 30 minutes.
type watchDurability struct {
	driver.Connector
	s      *Store
	writer bool // the writer's pool: refused on a server that cannot make commits durable
}

func (w watchDurability) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := w.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := w.s.sessionDurability(ctx, conn, w.writer); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// sessionDurability reads conn's server's durability settings and follows
// them (watchDurability). It returns an error wrapping
// eventstore.ErrUnavailable and ErrNotDurable for a session of the writer's
// on a server that cannot make commits durable, unless that is allowed.
func (s *Store) sessionDurability(ctx context.Context, conn driver.Conn, writer bool) error {
	s.settings.mu.Lock()
	watching, atOpen := s.settings.watching, s.settings.atOpen
	s.settings.mu.Unlock()
	if !watching {
		return nil // Open reads them, and chooses
	}
	v, err := queryInts(ctx, conn, "SELECT @@GLOBAL.innodb_flush_log_at_trx_commit, @@GLOBAL.log_bin, @@GLOBAL.sync_binlog")
	if err != nil {
		return fmt.Errorf("read durability settings: %w", err)
	}
	// A Galera cluster's size is as Open found it: its nodes keep copies
	// whatever each one's disk settings.
	d := durability{flushAtCommit: v[0], logBin: v[1] == 1, syncBinlog: v[2], galera: atOpen.galera, clusterSize: atOpen.clusterSize}
	why, allow := s.followDurability(d)
	if writer && why != "" && !allow {
		return refusedNotDurable(why)
	}
	return nil
}

// refusedNotDurable is an append's error, refused because the server's
// settings, changed while the service ran, let a crash lose it (why).
func refusedNotDurable(why string) error {
	return fmt.Errorf("%w: %w: %s (the server's settings changed while the service ran): appends are refused until they are fixed", eventstore.ErrUnavailable, ErrNotDurable, why)
}

// refuseUnlessDurable is run before an append while the store refuses
// appends (s.refusing: a session of any pool found settings that let a
// crash lose them). The writer's sessions opened before are not refused
// by their server, so the store refuses the append itself, as the log
// says it does. It reads the settings again first, on the primary, one
// append at a time (the others meanwhile go by what is known: a flood of
// refused appends takes one of the feed's sessions at most): once they are
// fixed, appends are taken at once, with no session needing to be new.
func (s *Store) refuseUnlessDurable(ctx context.Context) error {
	if s.rechecking.CompareAndSwap(false, true) {
		defer s.rechecking.Store(false)
		var flush, logBin, syncBinlog int64
		if err := s.primary.QueryRowContext(ctx, "SELECT @@GLOBAL.innodb_flush_log_at_trx_commit, @@GLOBAL.log_bin, @@GLOBAL.sync_binlog").
			Scan(&flush, &logBin, &syncBinlog); err != nil {
			return fmt.Errorf("read durability settings: %w", s.translate(err))
		}
		s.settings.mu.Lock()
		atOpen := s.settings.atOpen
		s.settings.mu.Unlock()
		s.followDurability(durability{flushAtCommit: flush, logBin: logBin == 1, syncBinlog: syncBinlog, galera: atOpen.galera, clusterSize: atOpen.clusterSize})
	}
	s.settings.mu.Lock()
	why, allow := s.settings.unsafe, s.settings.allow
	s.settings.mu.Unlock()
	if why != "" && !allow {
		return refusedNotDurable(why)
	}
	return nil
}

// followDurability turns the fences on or off as d's binary log says, logs
// a change of what d means for acknowledged appends, once, and returns why
// they could be lost ("" if they cannot) and whether that is allowed.
func (s *Store) followDurability(d durability) (why string, allow bool) {
	why = d.unsafe()
	s.settings.mu.Lock()
	defer s.settings.mu.Unlock()
	if was := s.fence.Swap(!d.logBin); was != !d.logBin {
		if d.logBin {
			s.log.Info("the database's binary log is on again: a commit is on disk once visible, and nothing waits for a durability fence", "node", s.Node())
		} else {
			s.log.Warn("the database's binary log is off now: the live feed and answers wait for a durability fence before they show a commit", "node", s.Node())
		}
	}
	s.refusing.Store(why != "" && !s.settings.allow)
	if why == s.settings.unsafe {
		return why, s.settings.allow
	}
	s.settings.unsafe = why
	switch {
	case why == "":
		s.log.Info("the database makes commits durable again: appends are taken", "node", s.Node())
	case s.settings.allow:
		s.log.Warn("the database's settings changed while the service runs: acknowledged appends can be lost in a crash of the database", "node", s.Node(), "reason", why)
	default:
		s.log.Error("the database's settings changed while the service runs, and it does not make commits durable: every append is refused (503) until they are fixed",
			"node", s.Node(), "reason", why)
	}
	return why, s.settings.allow
}

// queryInts runs q, which reads one row of integers, on conn.
func queryInts(ctx context.Context, conn driver.Conn, q string) ([]int64, error) {
	qc, ok := conn.(driver.QueryerContext)
	if !ok {
		return nil, fmt.Errorf("the MySQL driver's connection %T cannot run a statement", conn)
	}
	rows, err := qc.QueryContext(ctx, q, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	v := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(v); err != nil {
		return nil, err
	}
	n := make([]int64, len(v))
	for i, x := range v {
		switch x := x.(type) {
		case int64:
			n[i] = x
		case uint64:
			n[i] = int64(min(x, math.MaxInt64))
		case []byte: // the text protocol's
			if n[i], err = strconv.ParseInt(string(x), 10, 64); err != nil {
				return nil, fmt.Errorf("%s: column %d is %q, not an integer", q, i+1, x)
			}
		default:
			return nil, fmt.Errorf("%s: column %d is %T, not an integer", q, i+1, x)
		}
	}
	return n, nil
}

// waitDurable returns once every commit up to position, which the caller has
// seen, is on disk.
//
// With the binary log off, InnoDB makes a commit visible to other readers a
// moment before it has flushed it, so a reader could show an event that a
// crash then takes back, and its position be reused. A commit of our own
// fixes that: its flush covers every earlier entry of the log, since the redo
// log is flushed in order. With the binary log on, a commit is visible only
// after it is durable, and this does nothing.
//
// Positions are durable in order, so one fence answers every caller whose
// position it had seen: fences run one at a time, and a caller that finds
// its position covered by the last one returns without another. And where
// a COMMIT of this store's writer is on its way that will leave the head at
// position or beyond, its return makes position durable too: the caller
// waits for that, up to ownCommitPatience, rather than send a fence of its
// own, whose flush would compete with the writer's. (The live feed, woken
// by one commit, often reads the next one while its COMMIT is on its way.)
//
// It waits no longer than ctx's deadline, or fenceTimeout where ctx has none;
// a fence whose session is lost (killed, cut) is written again on another,
// a few times, within that time (sqlstore.AgainOnLostSession); one the
// server refused or ended on a live session (its time limit) is not.
func (s *Store) waitDurable(ctx context.Context, position int64) error {
	if !s.fence.Load() || position <= s.durable.Load() {
		return nil
	}
	if position <= s.committing.Load() {
		covered, err := s.awaitOwnCommit(ctx, position)
		if covered || err != nil {
			return err
		}
	}
	_, hasDeadline := ctx.Deadline()
	if !hasDeadline {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, fenceTimeout, errFenceTimedOut)
		defer cancel()
	}
	select {
	case s.fencing <- struct{}{}:
		defer func() { <-s.fencing }()
	case <-ctx.Done():
		// The cause says why (the callers left, fenceTimeout); the error
		// wraps ctx.Err() too, as the fence's statement's would.
		if cause := context.Cause(ctx); cause != ctx.Err() {
			return fmt.Errorf("wait for durability: %w: %w", ctx.Err(), cause)
		}
		return fmt.Errorf("wait for durability: %w", ctx.Err())
	}
	if position <= s.durable.Load() {
		return nil
	}
	// Should the fence's session be lost before its answer (killed while
	// it waited for a lock, cut), a fence commits nothing that a second one
	// does not: it is written again on another, in the time left.
	err := sqlstore.AgainOnLostSession(ctx, sessionLost, func(error) error { return s.writeFence(ctx) })
	if err != nil {
		// Bounded by fenceTimeout: what ended it is what the live feed
		// logs, and an operator acts on it. Only the server's answer tells
		// a lock from a stalled server or network.
		locked := isMySQLError(err, errLockWaitTimeout, errLockNoWait)
		switch {
		case !hasDeadline && locked:
			return fmt.Errorf("wait for durability: %w: %w", errFenceLocked, err)
		case locked:
			// Its wait ended before the caller's deadline (boundedWaits):
			// not the writer's transaction refused (translate's words for
			// 1205), but the fence's row or table held by another session.
			return fmt.Errorf("wait for durability: %w: the durability fence's row or table is locked by another session: %w", eventstore.ErrUnavailable, err)
		case errors.Is(context.Cause(ctx), errFenceTimedOut):
			return fmt.Errorf("wait for durability: %w: %w", errFenceTimedOut, s.translate(err))
		}
		return fmt.Errorf("wait for durability: %w", s.translate(err))
	}
	s.durableUpTo(position)
	return nil
}

// fenceTimeout bounds a wait for durability whose caller's context has no
// deadline: the live feed's tailer, whose context ends only with the
// process. Its fence would otherwise wait for a lock on the fence's row or
// table as long as the server says (innodb_lock_wait_timeout, 50 s by
// default), the feed handing out nothing all that time; bounded, it fails
// with errFenceTimedOut, which the feed retries at its next poll.
const fenceTimeout = 3 * time.Second

// errFenceTimedOut is a wait for durability's that fenceTimeout ended with
// no answer from the server: a frozen server or network says nothing of a
// lock. (A lock held past fenceTimeout is answered for by the server's own
// wait, bounded to whole seconds rounded down: it ends first, 1205.)
var errFenceTimedOut = fmt.Errorf("%w: the durability fence got no answer from the database within %v "+
	"(a stalled server or network, or a lock another session holds)", eventstore.ErrUnavailable, fenceTimeout)

// errFenceLocked is a wait for durability's, bounded by fenceTimeout, that
// the server ended because the fence waited for a lock too long (1205, or
// MySQL's 3572).
var errFenceLocked = fmt.Errorf("%w: the durability fence did not commit within %v (its row or table locked by another session?)",
	eventstore.ErrUnavailable, fenceTimeout)

// fenceWrite is the fence. It must write, or its commit flushes nothing:
// should the row have been deleted, an UPDATE would match nothing, so the
// fence puts it back.
const fenceWrite = "INSERT INTO durability_fence (id, counter) VALUES (1, 1) ON DUPLICATE KEY UPDATE counter = counter + 1"

// writeFence commits the fence. It waits for a lock on the fence's row
// (another process's fence, an operator's transaction) or on its table (DDL,
// a backup's commit lock) as the server or the DSN says, but no longer than
// ctx's deadline leaves, in whole seconds, rounded down (boundedWaits): at the
// deadline the driver closes the connection, but the server's session would
// go on waiting, for up to innodb_lock_wait_timeout (50 s by default),
// holding a place in the lock's queue, one session per timed-out read.
//
// Every read of a fresh position waits for a fence, and MariaDB's
// lock_wait_timeout (86400 s by default) is past any caller's deadline: on
// MariaDB the bound goes with the upsert, in one statement (SET STATEMENT),
// on any session of the pool. MySQL has no SET STATEMENT: there the fence
// takes a session of its own, sets its waits, and puts them back after, since
// the pool's other users (the live feed's reads, the migrations) wait as the
// server or the DSN says; a session that could not be put back is not used
// again.
func (s *Store) writeFence(ctx context.Context) error {
	s.m.Statement("fence")
	deadline, ok := ctx.Deadline()
	left := time.Until(deadline)
	if !ok || left.Seconds() >= max(s.lockWait, s.rowLockWait) {
		_, err := s.primary.ExecContext(ctx, fenceWrite)
		return err
	}
	if s.onMariaDB {
		lock, row := boundedWaits(s.lockWait, s.rowLockWait, left)
		_, err := s.primary.ExecContext(ctx, fmt.Sprintf("SET STATEMENT innodb_lock_wait_timeout = %d, lock_wait_timeout = %d FOR %s", row, lock, fenceWrite))
		return err
	}
	conn, err := s.primary.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, waitForLocks(s.lockWait, s.rowLockWait, left)); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, fenceWrite)
	if _, rerr := conn.ExecContext(ctx, s.restoreLocks); rerr != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // it says the connection is not to be reused
	}
	return err
}

// ownCommitPatience bounds how long waitDurable waits for a COMMIT of the
// writer's on its way (which takes a millisecond or two) before it sends a
// fence after all: that COMMIT may fail, or be slow. (Store.patience, which
// tests may set.)
const ownCommitPatience = 5 * time.Millisecond

// awaitOwnCommit waits until position is durable, for up to
// ownCommitPatience and while a COMMIT of the writer's that covers it is on
// its way: it reports whether it is, or ctx's error.
func (s *Store) awaitOwnCommit(ctx context.Context, position int64) (bool, error) {
	timer := time.NewTimer(s.patience)
	defer timer.Stop()
	for {
		s.movedMu.Lock()
		moved := s.moved
		s.movedMu.Unlock()
		// After taking moved: no move is missed.
		if position <= s.durable.Load() {
			return true, nil
		}
		if position > s.committing.Load() {
			return false, nil // that COMMIT did not go, or the next does not cover position
		}
		select {
		case <-moved:
		case <-timer.C:
			return false, nil
		case <-ctx.Done():
			return false, fmt.Errorf("wait for durability: %w", ctx.Err())
		}
	}
}

// durableUpTo records that every commit up to position is on disk: a fence
// returned, or a COMMIT of this store's writer did (its flush covers every
// earlier commit, and commits are in position order). The live feed then
// needs no fence for what this process wrote.
func (s *Store) durableUpTo(position int64) {
	for {
		d := s.durable.Load()
		if position <= d {
			return
		}
		if s.durable.CompareAndSwap(d, position) {
			break
		}
	}
	s.wake()
}

// forgetDurable forgets which commits are known to be on disk: the live feed
// found the log gone back under the process (a restore, a replaced
// database). Positions the mark had counted may hold other commits now,
// the restore's own or appends made since, which a crash could still take
// back: the next wait for durability fences, once, whatever its position.
func (s *Store) forgetDurable() {
	s.durable.Store(0)
	s.wake()
}

// committingUpTo records that a COMMIT of the writer's, on its way, will
// leave the head at position if it succeeds (see waitDurable). Only the
// writer calls it, one COMMIT at a time.
func (s *Store) committingUpTo(position int64) { s.committing.Store(position) }

// notCommitting records that the COMMIT told to committingUpTo did not
// return success (it failed, its result is unknown, or its round trip
// stopped before it): no COMMIT of the writer's is on its way, and whoever
// waits for one fences at once instead.
func (s *Store) notCommitting() {
	s.committing.Store(0)
	s.wake()
}

// wake tells awaitOwnCommit that durable or committing moved.
func (s *Store) wake() {
	s.movedMu.Lock()
	close(s.moved)
	s.moved = make(chan struct{})
	s.movedMu.Unlock()
}

package mysqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// A read replica (Options.ReadDSN) serves clients' reads and the live feed's
// tail; appends, their idempotency checks (inside the append transaction),
// migrations and the durability checks stay on the primary.
//
// What that keeps true:
//   - An async replica applies the primary's transactions in the primary's
//     commit order, as long as parallel replication preserves it (Open checks:
//     MariaDB's parallel modes always commit in order within a replication
//     domain, and appends are all in one; MySQL needs
//     replica_preserve_commit_order=ON with more than one worker). An append's
//     events and log_head move in one transaction, so the replica shows the
//     log as the primary did at some earlier moment: dense, in order, late.
//   - A replica applies only what the primary wrote to its binary log, and
//     the primary's binary log must be on (Open refuses otherwise); with
//     sync_binlog=1, which the durability check requires, a transaction in
//     the binary log survives a crash of the primary, so a subscriber on the
//     replica never sees an event that a crash of the primary takes back.
//     The durability fence is needed only with the binary log off, so it
//     never runs here.
//   - A client that reads what it just appended asks for it: reads wait,
//     bounded, until the replica's head reaches a position (the HTTP
//     layer's Tributary-Min-Position, on Head, which reads the replica).

// ErrReplicaOutOfOrder is returned by Open when the read replica may apply
// the primary's transactions out of commit order.
var ErrReplicaOutOfOrder = errors.New("the read replica may apply transactions out of the primary's commit order")

// replicaConfig parses the read replica's DSN, dsn, and refuses one that
// names no database or several servers. Open calls it before any
// connection: a typo there is a DSN to fix, which must not wait behind the
// primary's outage (start-up retries that) to be told.
func replicaConfig(dsn string) (*mysql.Config, error) {
	cfg, err := parseDSN(dsn, replicaDSN)
	if err != nil {
		return nil, err
	}
	if addrs, err := splitAddrs(dsn, cfg); err != nil || len(addrs) > 1 {
		return nil, fmt.Errorf("%s must name one server, got %s", replicaDSN, cfg.Addr)
	}
	if cfg.DBName == "" {
		return nil, errors.New(replicaDSN + " names no database (user:pass@tcp(host:3306)/DBNAME)")
	}
	normalise(dsn, cfg)
	return cfg, nil
}

// openReplica connects to the read replica of cfg (replicaConfig), makes
// its pools with mkPools (on s.reads and s.feed) and checks that it keeps
// the primary's commit order.
func (s *Store) openReplica(ctx context.Context, cfg *mysql.Config, mkPools func(driver.Connector)) error {
	c, err := committedReads(ctx, cfg, func(cfg *mysql.Config) (driver.Connector, error) {
		c, err := newConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("configure the read replica's MySQL connector: %w", err)
		}
		return c, nil
	})
	if err != nil {
		return replicaDownAtStart(cfg, translateUserAtStart(err, cfg))
	}
	s.replica = cfg
	mkPools(c)
	if err := s.feed.PingContext(ctx); err != nil {
		return replicaDownAtStart(cfg, translateUserAtStart(err, cfg))
	}
	switch {
	case !s.onPrimarysServer(ctx):
	case cfg.DBName == s.cfg.DBName:
		return fmt.Errorf("%s points at the primary itself (the server at %s, database %s, reached as %s): "+
			"unset it (the primary serves reads) or name a replica of it", replicaDSN, s.Addr(), cfg.DBName, cfg.Addr)
	default:
		// A replica's copy of the primary's database is on the replica's
		// own server: another database beside the primary's holds another
		// log (another service's, a restored copy, a name mistyped), whose
		// events reads and subscribers would be served as the primary's.
		return fmt.Errorf("%s names the database %s on the primary's own server (the server at %s, reached as %s), "+
			"not a replica of the primary's database %s: reads there would serve another log than the one appended to; "+
			"name the database %s on a replica of the primary, or unset it (the primary serves reads)",
			replicaDSN, cfg.DBName, s.Addr(), cfg.Addr, s.cfg.DBName, s.cfg.DBName)
	}
	if cluster := s.sameGaleraCluster(ctx); cluster != "" {
		return fmt.Errorf("%s names a node of the primary's own Galera cluster (state %s, reached as %s), not an async replica of it: "+
			"every node of the cluster has the log, applied a moment late, through no replication the store could watch (it shows no replica status); "+
			"unset it, and list the cluster's nodes in %s (the store writes through the one that holds the writer lease), "+
			"or name an async replica of the cluster", replicaDSN, cluster, cfg.Addr, primaryDSN)
	}
	if err := s.checkReplicaLog(ctx); err != nil {
		return err
	}
	return s.checkReplica(ctx)
}

// checkReplicaLog refuses a read replica whose log is not the primary's, as
// ReplicaLag (/readyz) tells it: its head past the primary's, or another
// event at its head than the primary's at that position. Such a database
// (another service's log on another server, a replica of another primary,
// one promoted and written to) reports no replication, or another, which
// start-up only warned of, and its events were then served as the
// primary's. The error wraps ErrReplicaAhead or ErrReplicaDiverged, not
// eventstore.ErrUnavailable: a DSN to fix, not an outage to wait out.
// Where either has no tables yet (a first start, before migrations; a
// replica still copying the primary) or no head row, there is nothing to
// compare, and it passes. A replica past the primary's head is looked at
// again each aheadRecheck, with a WARN, until ctx ends (the start-up
// timeout): a primary that catches up (a failover under way) passes.
func (s *Store) checkReplicaLog(ctx context.Context) error {
	mend := "name a replica of the primary (the same database on a server that replicates from it), or unset it (the primary serves reads)"
	var replicaHead, primaryHead int64
	var ahead error
	for warned := false; ; warned = true {
		rh, ph, err := s.heads(ctx)
		switch {
		case isMySQLError(err, errNoSuchTable, errUnknownColumn, errUnknownDB) || errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil && warned && ctx.Err() != nil:
			// The wait's end cut the look: refused as found last (the
			// failed look's heads are zeros, which would pass).
			return ahead
		case err != nil:
			return err
		}
		if replicaHead, primaryHead = rh, ph; replicaHead <= primaryHead {
			break
		}
		ahead = fmt.Errorf("%s names a database whose log is past the primary's (its head at %d, the primary's at %d), at %s: %w; "+
			"it serves a log the primary does not have (another service's, a replica of another server, or a primary restored from an older backup): %s",
			replicaDSN, replicaHead, primaryHead, s.replica.Addr, ErrReplicaAhead, mend)
		if !warned {
			// Briefly so in a failover (a primary promoted while still
			// applying what the replica has), as /readyz waits it out
			// while serving: refused at once, the start failed, and an
			// orchestrator's restarts became a crash loop.
			s.log.Warn("the read replica's log is ahead of the primary's; waiting for the primary to catch up until the start-up timeout "+
				"(a failover under way?), then refusing it", "replica", s.replica.Addr, "replica_head", replicaHead, "primary_head", primaryHead)
		}
		t := time.NewTimer(aheadRecheck)
		select {
		case <-ctx.Done():
			t.Stop()
			return ahead
		case <-t.C:
		}
	}
	if err := s.sameLog(ctx, replicaHead); errors.Is(err, ErrReplicaDiverged) {
		return fmt.Errorf("%s names a database that holds another event than the primary at its head (position %d), at %s: %w; "+
			"it serves another log than the one appended to (another service's, a replica of another server, or one promoted and written to): %s",
			replicaDSN, replicaHead, s.replica.Addr, ErrReplicaDiverged, mend)
	} else if err != nil {
		return err
	}
	return nil
}

// aheadRecheck is how often the start looks again at a read replica found
// past the primary's head (checkReplicaLog).
const aheadRecheck = time.Second

// replicaProbe is the connector of the read replica's stall watch
// (sqlstore's Options.ReadProbe): a session of its own on no database (a
// ping needs none), its waits bounded by the watch's contexts alone, as the
// primary's probe (Open): a readTimeout under the watch's bound ended a
// ping the replica never answered with the driver's "invalid connection",
// taken for a server that failed fast, and the stall never began.
func (s *Store) replicaProbe() (driver.Connector, error) {
	cfg := s.replica.Clone()
	cfg.DBName = ""
	cfg.ReadTimeout, cfg.WriteTimeout = 0, 0
	c, err := newConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure the read replica's MySQL connector: %w", err)
	}
	return c, nil
}

// sameGaleraCluster returns the state UUID of the Galera cluster that both
// the primary and the read replica are nodes of, or "" if they are not
// (either is no Galera node, MySQL, or they are of different clusters: a
// cluster's async replica may be a node of a cluster of its own). Where
// either does not answer, it is "": the check refuses only a replica known
// to be a node of the primary's cluster.
func (s *Store) sameGaleraCluster(ctx context.Context) string {
	uuid := func(db *sql.DB) string {
		var name, v string
		if err := db.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'wsrep_cluster_state_uuid'").Scan(&name, &v); err != nil {
			return ""
		}
		return v
	}
	primary := uuid(s.primary)
	if primary == "" || primary != uuid(s.feed) {
		return ""
	}
	return primary
}

// onPrimarysServer reports whether the read replica is on the primary's own
// server, under its address or another (localhost for 127.0.0.1, another
// name of the host), which start-up took for a replica that replicates
// nothing: no database there is a replica's copy of the primary's. A
// server is known by a named lock, which is its own: one taken on the
// primary is in use on the replica only if it is the same server.
// (@@server_uuid is MySQL's; @@server_id may be left at 1 on both.) Where
// the lock cannot be taken, the check is skipped: it refuses only a
// replica known to be on the primary's server.
func (s *Store) onPrimarysServer(ctx context.Context) bool {
	conn, err := s.primary.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	name := "tributary-identity-" + strings.ReplaceAll(uuid.NewString(), "-", "") // 51 of the 64 characters a lock's name may have
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil || got.Int64 != 1 {
		return false
	}
	defer func() {
		// Within the caller's time: a primary that stalls just now must not
		// hold the start past it. A session whose release did not go is
		// not pooled: the lock ends with it.
		if _, err := conn.ExecContext(ctx, "DO RELEASE_LOCK(?)", name); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the point is the session's end
		}
	}()
	var holder sql.NullInt64
	if err := s.feed.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", name).Scan(&holder); err != nil {
		return false
	}
	return holder.Valid
}

// replicaDownAtStart is the start's error for err, the read replica of
// cfg not answering its first session. The start waits for it as for an
// unavailable primary (until the start-up timeout), and then fails: reads
// are not moved to the primary unasked (its load was planned without
// them, and nothing would move them back once the replica answers). The
// error said only the driver's words, which the start logged as the
// database not reachable: it names the replica's setting, and says how to
// serve from the primary. A DSN to fix, or a refusal (a user refused, the
// host blocked), is said as it is.
func replicaDownAtStart(cfg *mysql.Config, err error) error {
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrRefused) || UserRefused(err) {
		return fmt.Errorf("connect to the read replica at %s: %w", cfg.Addr, err)
	}
	why := "it does not answer"
	if me := (*mysql.MySQLError)(nil); errors.As(err, &me) {
		why = "it cannot serve yet" // it answered: too many connections, out of resources
	}
	return fmt.Errorf("connect to the read replica at %s, which %s names: %s, while the primary answers; the start waits for it "+
		"until the start-up timeout, and does not serve reads from the primary instead: mend it, or unset %s to serve reads "+
		"from the primary: %w", cfg.Addr, replicaDSN, why, replicaDSN, replicaDown{err})
}

// ErrReplicaDownAtStart is wrapped by Open's error when the read replica
// does not answer (or cannot serve yet) while the primary does: the start
// waits for it, and its warnings say it is the replica they wait for.
var ErrReplicaDownAtStart = errors.New("the read replica does not answer")

// replicaDown marks err, the read replica's at start, with
// ErrReplicaDownAtStart, its words unchanged.
type replicaDown struct{ error }

func (e replicaDown) Unwrap() []error { return []error{e.error, ErrReplicaDownAtStart} }

// translateUserAtStart is translate for the read replica's first session:
// a user refused there (a wrong password, no access to the database) is a
// DSN to fix, which start-up fails on at once, not an outage to wait out.
func translateUserAtStart(err error, cfg *mysql.Config) error {
	switch {
	case isMySQLError(err, errUserDenied, errDBDenied, errHostDenied, errNoPassword, errAccountLocked, errMySQLLocked, errPasswordExpired, errExpiredAtLogin):
		return err
	case isMySQLError(err, errAccessDenied):
		return deniedSetting(err, cfg)
	case isMySQLError(err, errHostBlocked):
		return hostBlocked(err)
	case isMySQLError(err, errUnknownDB):
		return replicaLacksDatabase(err, cfg)
	case errors.Is(err, mysql.ErrPktTooLarge):
		return packetTooSmall(err, cfg, replicaDSN)
	}
	return translate(err)
}

// replicaLacksDatabase is the error of a read replica, of cfg, that has no
// database of the read DSN's name. The primary's words ("was it dropped?
// … create it and run `api migrate`") were wrong there: migrate migrates
// the primary, and tables made on a replica by hand break its replication.
// It stays unavailable, waited out at start-up: a replica being set up
// (still copying the primary) gets the database by replication.
func replicaLacksDatabase(err error, cfg *mysql.Config) error {
	return fmt.Errorf("%w: the read replica at %s has no database %s, which %s names: is it a replica of this primary, caught up, and "+
		"replicating that database (replicate-do-db, replicate-ignore-db, replication filters)? its database and tables come "+
		"from the primary's by replication: do not create them there: %w", eventstore.ErrUnavailable, cfg.Addr, cfg.DBName, replicaDSN, err)
}

// checkReplica refuses a replica whose parallel applier may commit out of
// order, and logs what it found.
func (s *Store) checkReplica(ctx context.Context) error {
	vars, err := replicaVariables(ctx, s.feed)
	if err != nil {
		return fmt.Errorf("read the read replica's settings: %w", err)
	}
	order, err := commitOrder(vars)
	if err != nil {
		return fmt.Errorf("%w: %s %w", ErrReplicaOutOfOrder, s.replica.Addr, err)
	}
	rows, err := s.replicaStatus(ctx)
	switch {
	case statusRefused(err):
		// Lag is measured on log_head, which needs no privilege; only this
		// check does.
		// Granted later, it is the sessions opened after which have it
		// (a global privilege is a session's from its start), and the
		// pool's live up to 30 minutes.
		s.log.Warn("cannot read the read replica's replication status: the user lacks REPLICA MONITOR (REPLICATION CLIENT on MySQL), "+
			"or a proxy's query rule refuses SHOW REPLICA STATUS; "+
			"the service works without it, but cannot say whether the replica replicates (/readyz: lag_seconds -1, replicating false); "+
			"once it is granted, restart the service: sessions already open do not get it, and the pool keeps them up to 30 minutes",
			"replica", s.replica.Addr, "error", err)
	case err != nil:
		return fmt.Errorf("read the read replica's status: %w", err)
	case len(rows) == 0:
		s.log.Warn("the read replica reports no replication (SHOW REPLICA STATUS is empty): reads there see appends only if something else copies them",
			"replica", s.replica.Addr)
	default:
		// Not its message: the applier's may quote rows.
		if stopped, ioErrno := stoppedForGood(rows); stopped {
			thread := "SQL"
			if ioErrno != 0 {
				thread = "IO"
			}
			s.log.Warn("the read replica has stopped replicating on an error and applies nothing more of the primary's until someone repairs it: "+
				"reads there are stale, and reads and resumptions asking for more are 503",
				"replica", s.replica.Addr, "thread", thread, "io_errno", ioErrno)
		}
	}
	s.log.Info("read replica", "replica", s.replica.Addr, "primary", s.Addr(), "commit_order", order,
		"serves", "clients' reads and the live feed; appends, their idempotency checks and durability stay on the primary")
	return nil
}

// replicaVariables reads the global variables commitOrder needs, with SHOW
// GLOBAL VARIABLES, or where the server refuses that (a proxy's query rule)
// with SELECT @@GLOBAL.… one by one, leaving out those it does not know.
// Where both are refused it fails naming both: whether the replica keeps the
// primary's commit order is not guessed.
func replicaVariables(ctx context.Context, db *sql.DB) (map[string]string, error) {
	vars, err := showVariables(ctx, db, replicaVariableNames...)
	if me := (*mysql.MySQLError)(nil); err == nil || !errors.As(err, &me) {
		return vars, err
	}
	vars = map[string]string{}
	for _, name := range replicaVariableNames {
		var v sql.NullString
		serr := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+name).Scan(&v)
		switch {
		case isMySQLError(serr, errUnknownVariable):
		case serr != nil:
			return nil, fmt.Errorf("SHOW GLOBAL VARIABLES: %w; SELECT @@GLOBAL.%s: %w; let the store's user run one of them", err, name, translate(serr))
		default:
			vars[name] = v.String
		}
	}
	return vars, nil
}

// replicaVariableNames are the global variables commitOrder reads.
var replicaVariableNames = []string{"version", "slave_parallel_threads", "slave_parallel_mode",
	"replica_parallel_workers", "slave_parallel_workers", "replica_preserve_commit_order", "slave_preserve_commit_order"}

// commitOrder says how a replica with these global variables keeps the
// primary's commit order, or why it may not.
func commitOrder(vars map[string]string) (string, error) {
	if strings.Contains(strings.ToLower(vars["version"]), "mariadb") {
		if n, _ := strconv.Atoi(vars["slave_parallel_threads"]); n > 0 && vars["slave_parallel_mode"] != "none" {
			return fmt.Sprintf("%d parallel threads, mode %s: MariaDB commits in the primary's order within a replication domain", n, vars["slave_parallel_mode"]), nil
		}
		return "one applier thread: commit order kept", nil
	}
	workers, preserve := vars["replica_parallel_workers"], vars["replica_preserve_commit_order"]
	if workers == "" {
		workers, preserve = vars["slave_parallel_workers"], vars["slave_preserve_commit_order"]
	}
	n, _ := strconv.Atoi(workers)
	if n <= 1 {
		return "one applier thread: commit order kept", nil
	}
	if !strings.EqualFold(preserve, "ON") && preserve != "1" {
		return "", fmt.Errorf("has %d parallel workers and replica_preserve_commit_order is %q; set it ON, or use one worker", n, preserve)
	}
	return fmt.Sprintf("%d parallel workers with replica_preserve_commit_order=ON: commit order kept", n), nil
}

// showVariables reads global variables by name; those the server lacks are
// missing from the map.
func showVariables(ctx context.Context, db *sql.DB, names ...string) (map[string]string, error) {
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	rows, err := db.QueryContext(ctx, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(names)), ", ")+")", args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	vars := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		vars[strings.ToLower(k)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	return vars, nil
}

// replicaStatus is the replica's SHOW REPLICA STATUS rows, one for each
// replication connection, by column name; none when it replicates from
// nothing. Older servers know only SHOW SLAVE STATUS. MySQL shows every
// channel there; MariaDB its default connection only: a replica that
// replicates through named ones (CHANGE MASTER 'name' TO …) has them read
// with SHOW ALL SLAVES STATUS. mergeStatus and stoppedForGood say what is
// true of all of them.
func (s *Store) replicaStatus(ctx context.Context) ([]map[string]sql.NullString, error) {
	st, err := s.statusRows(ctx, "SHOW REPLICA STATUS")
	if err != nil && isMySQLError(err, errParse) {
		st, err = s.statusRows(ctx, "SHOW SLAVE STATUS")
	}
	switch {
	case err != nil:
		return nil, err
	case len(st) > 0:
		return st, nil
	}
	all, err := s.statusRows(ctx, "SHOW ALL SLAVES STATUS")
	switch {
	case isMySQLError(err, errParse):
		return nil, nil // MySQL: no named connections
	case err != nil:
		return nil, err
	}
	return all, nil
}

// mergeStatus makes one status of the connections' (MariaDB's named
// connections, MySQL's channels): a thread runs ("Yes") only where it runs
// in every connection, the lag in seconds is the largest, unknown (NULL)
// if any is. MySQL 8.0.22+ names the columns Replica_… and …_Source,
// MariaDB and older MySQL Slave_… and …_Master. Without a connection, no
// thread runs.
func mergeStatus(rows []map[string]sql.NullString) map[string]sql.NullString {
	merged := map[string]sql.NullString{}
	if len(rows) == 0 {
		return merged
	}
	for _, c := range []string{"Slave_IO_Running", "Slave_SQL_Running", "Replica_IO_Running", "Replica_SQL_Running"} {
		if _, ok := rows[0][c]; !ok {
			continue
		}
		v := sql.NullString{String: "Yes", Valid: true}
		for _, r := range rows {
			if r[c].String != "Yes" {
				v = r[c]
			}
		}
		merged[c] = v
	}
	for _, c := range []string{"Seconds_Behind_Master", "Seconds_Behind_Source"} {
		if _, ok := rows[0][c]; !ok {
			continue
		}
		most, mostN := sql.NullString{}, int64(-1)
		for _, r := range rows {
			sec := r[c]
			if !sec.Valid {
				most = sec
				break
			}
			if n, err := strconv.ParseInt(sec.String, 10, 64); err == nil && n > mostN {
				most, mostN = sec, n
			}
		}
		merged[c] = most
	}
	return merged
}

// statusRows runs a SHOW … STATUS statement and returns its rows by column
// name; once more on a fresh session where its connection was lost once
// it had gone out (readOnce).
func (s *Store) statusRows(ctx context.Context, query string) (all []map[string]sql.NullString, err error) {
	err = s.readOnce(ctx, "replica_status", s.feed, func() error {
		all, err = s.statusRowsOnce(ctx, query)
		return err
	})
	return all, s.translateReplica(err)
}

// statusRowsOnce is statusRows' one sending, its error the driver's.
func (s *Store) statusRowsOnce(ctx context.Context, query string) ([]map[string]sql.NullString, error) {
	rows, err := s.feed.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var all []map[string]sql.NullString
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		st := make(map[string]sql.NullString, len(cols))
		for i, c := range cols {
			st[c] = vals[i]
		}
		all = append(all, st)
	}
	return all, rows.Err()
}

// Errors of a read replica that lacks what the primary's migrations made.
const (
	errNoSuchTable   = 1146
	errUnknownColumn = 1054
)

// translateReplica is translate for the read replica's sessions: a table or
// column missing there is the replica not having applied the primary's
// migrations yet (still copying the primary, its applier stopped, a rolling
// upgrade's migration on its way), the replica's passing trouble like its
// lag, not an error of the service. The primary has them: Migrate ran there
// before the store served. A new session refused its user (1045, 1044) is
// the read DSN's and the replica's to mend, which the error names: the
// primary's words ("the DSN's user") sent operators to the primary; an
// index the reads force missing there (1176) is the replica's too, never an
// ALTER TABLE to run on it; so is
// the replica blocking the service's host (1129), and a privilege refused
// on its tables (1142, 1143), which also ends the replica's sessions opened
// before it (regrant.go: a GRANT there reaches only new ones), not the
// primary's; and so is its address not answering (refused, reset, cut),
// which is named and marked as the replica's (replicaUnreachable).
func (s *Store) translateReplica(err error) error {
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &me) && (me.Number == errTableAccess || me.Number == errColumnAccess):
		denied := privilegeDenied(me)
		denied.Replica = true
		s.replicaPrivileges.refused(denied.Privilege + " " + denied.Table)
		return refusal{fmt.Errorf("%w: the read replica at %s: %w", eventstore.ErrUnavailable, s.replica.Addr, denied)}
	case isMySQLError(err, errNoSuchTable, errUnknownColumn):
		return fmt.Errorf("%w: a table or column is missing; the read replica has not applied the primary's migrations yet: %w", eventstore.ErrUnavailable, err)
	case errors.As(err, &me) && me.Number == errNoSuchKey:
		// An index the reads force, missing (or hidden) on the replica
		// only: the primary's ALTER TABLE to make it, run on the replica,
		// would make the primary's own, replicated, fail and stop
		// replication. It is the primary's to add, or the replica's to
		// rebuild.
		index := "(named in the database's error)"
		if m, ok := missing(me).(*eventstore.MissingError); ok && m.Index != "" {
			index = m.Index
		}
		return fmt.Errorf("%w: the read replica at %s (TRIBUTARY_MYSQL_READ_DSN) lacks the index %s, or has it IGNORED or INVISIBLE, which the reads of the log "+
			"filtered on stream or event types use: a migration not applied there yet, or a replica rebuilt without it; those reads fail until it is there. "+
			"Make it on the primary, from which it replicates, or rebuild the replica from the primary; do not alter the replica by hand "+
			"(the primary's own statement, replicated, would then fail and stop replication): %w", eventstore.ErrUnavailable, s.replica.Addr, index, err)
	case isMySQLError(err, errUnknownDB):
		return replicaLacksDatabase(err, s.replica)
	case isMySQLError(err, errUserDenied, errDBDenied):
		return refusal{fmt.Errorf("%w: the read replica at %s refuses the user of TRIBUTARY_MYSQL_READ_DSN a new session (its password changed there, "+
			"or the user dropped, or its access to the database revoked?): %w", eventstore.ErrUnavailable, s.replica.Addr, err)}
	case isMySQLError(err, errHostBlocked):
		return refusal{fmt.Errorf("%w: the read replica at %s (TRIBUTARY_MYSQL_READ_DSN): %w", eventstore.ErrUnavailable, s.replica.Addr, hostBlocked(err))}
	case errors.Is(err, sql.ErrNoRows):
		return headRowMissing(err)
	case !errors.As(err, &me) && errors.Is(translate(err), eventstore.ErrUnavailable):
		// Its address does not answer (refused, reset, cut): said as the
		// replica's, with its address, and marked so (ReadReplica) for
		// the 503's detail. The driver's words alone ("dial tcp …")
		// read, in Ping's error (/readyz, the log), as the database's.
		return replicaUnreachable{fmt.Errorf("%w: the read replica at %s (TRIBUTARY_MYSQL_READ_DSN) cannot be reached: %w",
			eventstore.ErrUnavailable, s.replica.Addr, err)}
	}
	return translate(err)
}

// replicaIndexMissing is Ping's partial finding for an index that the
// filtered reads force, missing on the read replica only (me, 1176): the
// MissingError naming it, which /readyz names as it does the primary's,
// with the replica's address and none of the statements that make it
// again: those are the primary's to run.
func (s *Store) replicaIndexMissing(me *mysql.MySQLError) error {
	m := &eventstore.MissingError{Index: "(named in the database's error)", Err: me}
	if found, ok := missing(me).(*eventstore.MissingError); ok && found.Index != "" {
		m.Index = found.Index
	}
	m.Database, m.Replica = s.replica.DBName, s.replica.Addr
	return fmt.Errorf("the read replica (TRIBUTARY_MYSQL_READ_DSN): %w", m)
}

// errParse is a syntax error: an older server's answer to SHOW REPLICA STATUS.
const errParse = 1064

// errNotAllowed is "The used command is not allowed": a proxy's query rule
// refusing a statement (ProxySQL's error_msg answers it).
const errNotAllowed = 1148

// statusRefused reports whether err, from replicaStatus, is the replica's
// refusal to show its replication status: the user lacks REPLICA MONITOR
// (1227), or a proxy's query rule refuses the statement (1148). The lag in
// positions is measured without it; only what the status says is unknown.
func statusRefused(err error) bool { return isMySQLError(err, errAccessDenied, errNotAllowed) }

// ReplicaLag reports how far the read replica is behind the primary: the
// primary's log head minus the replica's, the replica's own estimate in
// seconds, and whether it has stopped for good on an error, its applier's
// or its IO thread's (stoppedForGood). It returns an
// error wrapping eventstore.ErrUnavailable when either server does not
// answer, and a zero lag when no replica is configured.
// Where the user may not read the replica's status (no REPLICA MONITOR), the
// seconds are -1 and Replicating and ApplierFailed false: not known.
func (s *Store) ReplicaLag(ctx context.Context) (eventstore.ReplicaLag, error) {
	if s.replica == nil {
		return eventstore.ReplicaLag{Replicating: true, PrimaryMayLag: s.onGalera}, nil
	}
	replicaHead, primaryHead, err := s.heads(ctx)
	if err != nil {
		return eventstore.ReplicaLag{}, err
	}
	if replicaHead > primaryHead {
		err := fmt.Errorf("%w: %w: %w: its log head is at %d, the primary's at %d; it serves a log the primary does not have "+
			"(a replica of another server, or a primary restored from an older backup)", eventstore.ErrUnavailable, eventstore.ErrReplicaOtherLog, ErrReplicaAhead, replicaHead, primaryHead)
		s.noteOtherLog(err)
		return eventstore.ReplicaLag{}, err
	}
	err = s.sameLog(ctx, replicaHead)
	if err == nil {
		// The event lost below its head (missingFromLog), looked at again:
		// the head and its event alone say nothing of it.
		err = s.stillLost(ctx, s.otherLog.Load(), replicaHead)
	}
	s.noteOtherLog(err)
	if err != nil {
		return eventstore.ReplicaLag{}, err
	}
	lag := eventstore.ReplicaLag{Positions: max(primaryHead-replicaHead, 0), PrimaryHead: primaryHead, Seconds: -1, PrimaryMayLag: s.onGalera}
	rows, err := s.replicaStatus(ctx)
	switch {
	case statusRefused(err):
		// The user lacks REPLICA MONITOR, or a proxy refuses the statement
		// (checkReplica warned at start-up):
		// the lag in positions is known, what the status says is not.
		return lag, nil
	case err != nil:
		return eventstore.ReplicaLag{}, fmt.Errorf("read the replica's status: %w", err)
	}
	st := mergeStatus(rows)
	if sec := column(st, "Seconds_Behind_Source", "Seconds_Behind_Master"); sec.Valid {
		lag.Seconds, _ = strconv.ParseInt(sec.String, 10, 64)
	}
	lag.Replicating = column(st, "Replica_IO_Running", "Slave_IO_Running").String == "Yes" &&
		column(st, "Replica_SQL_Running", "Slave_SQL_Running").String == "Yes"
	lag.ApplierFailed, lag.IOErrno = stoppedForGood(rows)
	return lag, nil
}

// column is the first of names that the status st has: MySQL 8.0.22+ says
// Source and Replica, MariaDB and older MySQL Master and Slave.
func column(st map[string]sql.NullString, names ...string) sql.NullString {
	for _, n := range names {
		if v, ok := st[n]; ok {
			return v
		}
	}
	return sql.NullString{}
}

// PrimaryStreamVersion returns stream id's version on the primary, 0 where
// the primary has no such stream: a version past it was never answered on
// this database, however far the read replica lags. It returns an error
// wrapping eventstore.ErrUnavailable when the primary does not answer.
func (s *Store) PrimaryStreamVersion(ctx context.Context, id uuid.UUID) (int64, error) {
	var v int64
	const q = "SELECT COALESCE(MAX(stream_version), 0) FROM events WHERE stream_id = ?"
	err := s.readOnce(ctx, "primary_stream_version", s.primary, func() error { return s.primary.QueryRowContext(ctx, q, id[:]).Scan(&v) })
	if err != nil {
		return 0, fmt.Errorf("read stream %s on the primary: %w", id, s.translate(err))
	}
	return v, nil
}

// stoppedForGood reports whether every replication connection in rows
// (replicaStatus) has stopped for good (connectionStopped), and the IO
// thread's error number where one stopped on its receiver's. None where
// there is no connection: the replica may be copied some other way.
func stoppedForGood(rows []map[string]sql.NullString) (stopped bool, ioErrno int) {
	for _, st := range rows {
		stopped, errno := connectionStopped(st)
		if !stopped {
			return false, 0
		}
		ioErrno = cmp.Or(ioErrno, errno)
	}
	return len(rows) > 0, ioErrno
}

// connectionStopped reports whether one connection's status says it applies
// nothing more of its primary's until someone repairs it: its applier (the
// SQL thread) has stopped on an error, not running with a Last_SQL_Errno
// (one stopped cleanly has none; a running one may show the error it
// retries); or its receiver (the IO thread) has, not running ("No") with a
// Last_IO_Errno (the primary purged the binary log it had yet to read:
// 1236), and its applier has applied all the receiver got, up to the same
// place in the primary's log. A receiver that is "Connecting" retries (a
// primary gone for a moment; with a wrong password too, every
// MASTER_CONNECT_RETRY seconds) and may yet succeed: the replica lags.
// ioErrno is the receiver's Last_IO_Errno where it is why.
func connectionStopped(st map[string]sql.NullString) (stopped bool, ioErrno int) {
	errno, _ := strconv.Atoi(st["Last_SQL_Errno"].String)
	if column(st, "Replica_SQL_Running", "Slave_SQL_Running").String != "Yes" && errno != 0 {
		return true, 0
	}
	ioErrno, _ = strconv.Atoi(st["Last_IO_Errno"].String)
	if column(st, "Replica_IO_Running", "Slave_IO_Running").String != "No" || ioErrno == 0 {
		return false, 0
	}
	read, applied := column(st, "Read_Source_Log_Pos", "Read_Master_Log_Pos"), column(st, "Exec_Source_Log_Pos", "Exec_Master_Log_Pos")
	readFile, appliedFile := column(st, "Source_Log_File", "Master_Log_File"), column(st, "Relay_Source_Log_File", "Relay_Master_Log_File")
	if !read.Valid || read != applied || readFile != appliedFile {
		return false, 0
	}
	return true, ioErrno
}

// ErrReplicaAhead is wrapped by ReplicaLag's error when the read replica's
// log is past the primary's: it is not a replica of this primary.
var ErrReplicaAhead = errors.New("the read replica is ahead of its primary")

// ErrReplicaDiverged is wrapped by ReplicaLag's error when the read
// replica's log holds another event than the primary's at a position both
// have: it is not a replica of this primary.
var ErrReplicaDiverged = errors.New("the read replica's log is not the primary's")

// sameLog compares the event at the replica's head with the primary's at
// that position; positions are never reused, so where they differ the
// replica holds another log (promoted and written to, replicating another
// server, a primary restored from a backup whose later appends went
// elsewhere). The primary may not show a commit the replica already has
// for a moment (see heads): a position it lacks is looked up again, for up
// to a second, and then left unjudged.
func (s *Store) sameLog(ctx context.Context, replicaHead int64) error {
	if replicaHead == 0 {
		return nil
	}
	const q = "SELECT event_id FROM events WHERE position = ?"
	var onReplica, onPrimary []byte
	err := s.readOnce(ctx, "replica_same_log", s.feed, func() error { return s.feed.QueryRowContext(ctx, q, replicaHead).Scan(&onReplica) })
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return fmt.Errorf("read the replica's last event: %w", s.translateReplica(err))
	}
	for deadline := time.Now().Add(time.Second); ; {
		err := s.readOnce(ctx, "replica_same_log", s.primary, func() error { return s.primary.QueryRowContext(ctx, q, replicaHead).Scan(&onPrimary) })
		switch {
		case err == nil && !bytes.Equal(onReplica, onPrimary):
			return fmt.Errorf("%w: %w: %w: at position %d it holds another event than the primary; it serves a log the primary does not have "+
				"(a replica promoted and written to, one of another server, or a primary restored from an older backup)",
				eventstore.ErrUnavailable, eventstore.ErrReplicaOtherLog, ErrReplicaDiverged, replicaHead)
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read the primary's event at the replica's head: %w", s.translate(err))
		case time.Now().After(deadline):
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// heads reads the replica's log head and then the primary's. The replica's
// first: it only grows, so the difference is never less than the lag at the
// moment the primary's was read. A commit can show on a replica a moment
// before on its primary (the binary log is sent before the primary's engine
// commit completes), so a replica found ahead has the primary's head read
// again, for up to a second, before it is reported so.
//
// While the stall watch holds the primary stalled, or the read replica's
// own watch the replica, it reads neither, and returns the watch's refusal
// at once: a read there would wait out ctx (a scrape's lag every 2 s, each
// /readyz's 2 s), and cut a new session in its handshake.
func (s *Store) heads(ctx context.Context) (replicaHead, primaryHead int64, err error) {
	if err := s.stalled(); err != nil {
		return 0, 0, fmt.Errorf("read the primary's log head: %w", err)
	}
	if err := s.replicaStalled(); err != nil {
		return 0, 0, replicaUnreachable{fmt.Errorf("read the replica's log head: %w", err)}
	}
	const head = "SELECT position FROM log_head WHERE id = 1"
	if err := s.readOnce(ctx, "replica_lag", s.feed, func() error { return s.feed.QueryRowContext(ctx, head).Scan(&replicaHead) }); err != nil {
		return 0, 0, fmt.Errorf("read the replica's log head: %w", s.translateReplica(err))
	}
	deadline := time.Now().Add(time.Second)
	for {
		if err := s.readOnce(ctx, "replica_lag", s.primary, func() error { return s.primary.QueryRowContext(ctx, head).Scan(&primaryHead) }); err != nil {
			return 0, 0, fmt.Errorf("read the primary's log head: %w", s.translate(err))
		}
		if primaryHead >= replicaHead || time.Now().After(deadline) {
			return replicaHead, primaryHead, nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return replicaHead, primaryHead, nil
		case <-t.C:
		}
	}
}

// stalled is the stall watch's refusal while it holds the primary stalled,
// nil while it answers (or where the store has no watch).
func (s *Store) stalled() error {
	if s.Store == nil {
		return nil
	}
	return s.Store.Stall()
}

// replicaStalled is the read replica's stall watch's refusal while it holds
// the replica stalled, nil while it answers (or where the store has none).
func (s *Store) replicaStalled() error {
	if s.Store == nil {
		return nil
	}
	return s.Store.ReadStall()
}

// lagForMetrics is the replica's lag in positions for a scrape: below 0
// when the replica is ahead of its primary, NaN when it cannot be read.
func (s *Store) lagForMetrics() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	replicaHead, primaryHead, err := s.heads(ctx)
	if err != nil {
		return math.NaN()
	}
	return float64(primaryHead - replicaHead)
}

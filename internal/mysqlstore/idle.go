package mysqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// An instance frozen (SIGSTOP, a host hung) or cut off (a network path that
// stops passing anything) while its writer's transaction holds the log's
// lock leaves a session that sits idle inside that transaction, and every
// other instance's appends wait for the lock. The server's wait_timeout
// (8 hours by default) is the only bound on that, and the server knows
// nothing of the process gone quiet. So every writer session tells its
// server to end it once it has sat idle inside a transaction past
// writerIdleBound (boundIdleTransactions), which rolls back the frozen
// append and frees the lock; and an append that timed out on the lock
// says, once, who holds it (sayLockHolder).

// boundIdleTransactions sets on cfg, the writer's, that the server ends a
// session idle inside a transaction for longer than idle (whole seconds,
// rounded up): MariaDB's idle_transaction_timeout (10.3+), else wait_timeout,
// which ends a session idle outside a transaction too (the writer's pool
// then closes its idle sessions before it: Open). A lower bound that the
// server or the DSN already sets (db's sessions show it) is kept. It
// returns the variable and its value in seconds. asOnMySQL takes
// wait_timeout whatever the server (tests).
func boundIdleTransactions(ctx context.Context, db *sql.DB, cfg *mysql.Config, idle time.Duration, asOnMySQL bool) (string, int64, error) {
	name := "idle_transaction_timeout"
	var now int64
	err := db.QueryRowContext(ctx, "SELECT @@SESSION.idle_transaction_timeout").Scan(&now)
	if isMySQLError(err, errUnknownVariable) || asOnMySQL {
		name = "wait_timeout"
		err = db.QueryRowContext(ctx, "SELECT @@SESSION.wait_timeout").Scan(&now)
	}
	if err != nil {
		return "", 0, fmt.Errorf("read the server's %s: %w", name, translate(err))
	}
	bound := int64(math.Ceil(idle.Seconds()))
	if now > 0 && now <= bound {
		return name, now, nil
	}
	setParam(cfg, name, strconv.FormatInt(bound, 10))
	return name, bound, nil
}

// holderTimeout bounds the search for the session holding the log's lock.
const holderTimeout = 3 * time.Second

// Append implements eventstore.Store (sqlstore's Append). An append that
// ran out of time (its caller's deadline), or was refused a lock, has the store say in its
// log who holds it, once until an append goes in again (sayLockHolder).
// One that found a position taken looks, within its caller's time, whether
// the log's head is behind its events, and answers that damage if it is.
// While the server's settings let a crash lose an acknowledged append (and
// that is not allowed), every append is refused, wrapping ErrUnavailable
// and ErrNotDurable (refuseUnlessDurable).
func (s *Store) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if s.refusing.Load() {
		if err := s.refuseUnlessDurable(ctx); err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("append to %s: %w", req.StreamID, err)
		}
	}
	res, err := s.Store.Append(ctx, req)
	switch {
	case err == nil:
		if s.holderSaid.Load() { // a read, not a write of a shared line, on every append
			s.holderSaid.Store(false)
		}
	case errors.Is(err, context.DeadlineExceeded) || isMySQLError(err, errLockWaitTimeout, errLockNoWait):
		s.sayLockHolder()
	case isMySQLError(err, errDupKey) && !errors.Is(err, eventstore.ErrUnavailable):
		// A position or stream version taken still on the writer's
		// fresh read: the log's head behind its events, if not another
		// client writing without the log's lock. The look ends with the
		// caller's time: a primary slow to answer must not hold the
		// append's answer past its deadline.
		hctx, cancel := context.WithTimeout(ctx, holderTimeout)
		defer cancel()
		if f := s.beforeHeadLook.Load(); f != nil {
			(*f)(hctx)
		}
		if derr := s.headBehind(hctx); errors.Is(derr, eventstore.ErrDamaged) {
			return res, fmt.Errorf("append to %s: %w", req.StreamID, derr)
		}
	}
	return res, err
}

// sayLockHolder looks, in the background, for the session that holds the
// log's lock, and logs it once (lockHolder: information_schema's INNODB_
// tables, which need the PROCESS privilege, and PROCESSLIST; on MySQL 8.0,
// performance_schema's data_lock_waits too).
// Nothing is logged if there is none (the database did not answer, rather
// than a lock being held), and one search runs at a time. None begins while
// the stall watch holds the database stalled: an append sent before it
// stopped answering runs out of time then, and a search would only wait
// its 3 s on a new connection, cut in its handshake (counted against the
// server's max_connect_errors for the host).
func (s *Store) sayLockHolder() {
	if s.holderSaid.Load() || s.stalled() != nil || !s.seeking.CompareAndSwap(false, true) {
		return
	}
	s.seekMu.Lock()
	defer s.seekMu.Unlock()
	if s.closed {
		s.seeking.Store(false)
		return
	}
	s.seekers.Add(1)
	go func() {
		defer s.seekers.Done()
		defer s.seeking.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), holderTimeout)
		defer cancel()
		h, err := s.lockHolder(ctx)
		if (err == nil && h.id == 0) || isMySQLError(err, errAccessDenied, errTableAccess) {
			// No transaction holds the lock, or the user may not see
			// them: a lock of the server's own may stall the appends.
			if w, werr := s.serverLockWait(ctx); werr == nil && w.id != 0 {
				if s.holderSaid.CompareAndSwap(false, true) {
					s.log.Error("an append ran out of time, and no transaction holds the log's lock: "+w.why(), w.attrs()...)
				}
				return
			}
		}
		switch {
		case isMySQLError(err, errAccessDenied, errTableAccess):
			if s.holderSaid.CompareAndSwap(false, true) {
				s.log.Warn("an append ran out of time, and the DSN's user may not see which session may hold the log's lock (log_head), which every append takes: "+
					"grant it PROCESS, or look in information_schema.INNODB_TRX as root for the oldest transaction on the database",
					"database", s.cfg.DBName, "error", err)
			}
		case err != nil || h.id == 0:
			// The database did not answer, or no transaction holds locks:
			// not a lock held, or it has gone.
		case s.holderSaid.CompareAndSwap(false, true):
			held := "is likely held by the oldest transaction open on the database: "
			if h.waitedFor {
				held = "is held by the session the server shows another waiting for: "
			}
			s.log.Error("an append ran out of time, and the log's lock (log_head), which every append takes, "+held+
				h.String()+"; a session idle (Sleep) inside its transaction is an instance's frozen or cut off "+
				"(the server ends a writer's after "+s.idleVar+" = "+strconv.FormatInt(s.idleSeconds, 10)+" s), or another client's: KILL it if it is not an instance's",
				h.attrs()...)
		}
	}()
}

// holder is what the server says of the session that holds the log's lock
// (lockHolder).
type holder struct {
	id                         int64
	waitedFor                  bool // a session waiting for the lock waits for it: the holder for sure
	user, host, command, state string
	idle, open, rowsLocked     int64
	statement                  string // the first word of its statement: never its text, which may hold a secret
}

// holderColumns reads a holder from the server's transactions (t,
// INNODB_TRX) and sessions (p, PROCESSLIST).
const holderColumns = "SELECT t.trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, t.trx_started, NOW()), t.trx_rows_locked, " +
	"p.USER, p.HOST, p.COMMAND, p.TIME, p.STATE, p.INFO " +
	"FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "

// holderOrder names one holder of several, the same each time: the oldest,
// and of those begun in the same second (trx_started has whole seconds),
// the first to take a lock or write, whose transaction id is the lowest.
// A transaction that waited for the log's lock (an append's, its wait just
// timed out and not yet rolled back) takes its first lock after the holder
// took its.
const holderOrder = " ORDER BY t.trx_started, CAST(t.trx_id AS UNSIGNED) LIMIT 1"

// lockWaitQuery is a query that finds the session whom another, waiting
// for the log's lock, waits for (holderColumns, one row at most), with its
// arguments for the store's database.
type lockWaitQuery struct {
	query string
	args  func(db string) []any
}

func (q lockWaitQuery) String() string { return q.query }

// Where a server says whom a waiter waits for: information_schema's
// INNODB_LOCK_WAITS and INNODB_LOCKS on MariaDB and MySQL before 8.0, which
// MySQL 8.0 removed for performance_schema's data_lock_waits and data_locks
// (empty with the performance schema off).
var (
	innodbLockWaits = lockWaitQuery{
		query: holderColumns +
			"JOIN information_schema.INNODB_LOCK_WAITS w ON w.blocking_trx_id = t.trx_id " +
			"JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.blocking_lock_id " +
			"WHERE l.lock_table = ? AND t.trx_state <> 'LOCK WAIT' AND p.ID <> CONNECTION_ID()" + holderOrder,
		args: func(db string) []any { return []any{"`" + strings.ReplaceAll(db, "`", "``") + "`.`log_head`"} },
	}
	dataLockWaits = lockWaitQuery{
		query: holderColumns +
			"JOIN performance_schema.data_lock_waits w ON w.BLOCKING_ENGINE_TRANSACTION_ID = t.trx_id " +
			"JOIN performance_schema.data_locks l ON l.ENGINE = w.ENGINE AND l.ENGINE_LOCK_ID = w.BLOCKING_ENGINE_LOCK_ID " +
			"WHERE l.OBJECT_SCHEMA = ? AND l.OBJECT_NAME = 'log_head' AND t.trx_state <> 'LOCK WAIT' AND p.ID <> CONNECTION_ID()" + holderOrder,
		args: func(db string) []any { return []any{db} },
	}
)

// lockWaitQueries are the queries lockHolder asks, in order, on a server of
// version (SELECT VERSION()): the server's own table first, then the
// other, for a version that is not the server's (a proxy's own).
func lockWaitQueries(version string) []lockWaitQuery {
	if major, _, ok := majorMinor(version); ok && major >= 8 && !mariaDB(version) {
		return []lockWaitQuery{dataLockWaits, innodbLockWaits}
	}
	return []lockWaitQuery{innodbLockWaits, dataLockWaits}
}

// lockHolder finds the session that holds the log's lock, where an append
// timed out waiting for it. Where a session waits for the lock, the server
// says whom it waits for (s.lockWaits: lockWaitQueries), and that session
// is the holder. Else (no one waits any more, or the server shows neither
// table to the user) the holder is taken to be the oldest transaction open
// on the store's database that holds locks, does not wait for one and has
// been open for a second or more (holderOrder). Its id is 0 if there is
// none.
func (s *Store) lockHolder(ctx context.Context) (holder, error) {
	for _, q := range s.lockWaits {
		h, err := s.scanHolder(ctx, q.query, q.args(s.cfg.DBName)...)
		if err == nil && h.id != 0 {
			h.waitedFor = true
			return h, nil
		}
		if err == nil {
			break // the server's table says no one waits
		}
		// A table the server has not (1109, 1146), or one in
		// performance_schema the user may not read (1142; INNODB_TRX,
		// below, needs PROCESS, which the caller names where it lacks):
		// the next way. Any other error is the server's.
		if !isMySQLError(err, errUnknownTable, errNoSuchTable, errTableAccess) {
			return holder{}, err
		}
	}
	return s.scanHolder(ctx, holderColumns+
		"WHERE p.DB = DATABASE() AND t.trx_state <> 'LOCK WAIT' AND t.trx_lock_structs > 0 AND p.ID <> CONNECTION_ID() "+
		"AND t.trx_started <= NOW() - INTERVAL 1 SECOND"+holderOrder)
}

// scanHolder reads the holder that query (holderColumns, of one row at
// most) finds; its id is 0 if there is none.
func (s *Store) scanHolder(ctx context.Context, query string, args ...any) (holder, error) {
	var h holder
	var state, info sql.NullString
	err := s.probe.QueryRowContext(ctx, query, args...).
		Scan(&h.id, &h.open, &h.rowsLocked, &h.user, &h.host, &h.command, &h.idle, &state, &info)
	if errors.Is(err, sql.ErrNoRows) {
		return holder{}, nil
	}
	if err != nil {
		return holder{}, err
	}
	h.state = state.String
	h.statement = firstWord(info.String)
	return h, nil
}

func (h holder) String() string {
	doing := h.command
	if h.statement != "" {
		doing += " " + h.statement
	}
	doing += fmt.Sprintf(" for %d s", h.idle)
	if h.state != "" {
		doing += ", " + h.state
	}
	return fmt.Sprintf("connection %d (%s: %s; its transaction open %d s, %d rows locked)", h.id, userAt(h.user, h.host), doing, h.open, h.rowsLocked)
}

func (h holder) attrs() []any {
	return []any{"holder_connection_id", h.id, "holder_user", h.user, "holder_host", h.host, "holder_command", h.command,
		"holder_state", h.state, "holder_for", time.Duration(h.idle) * time.Second, "holder_statement", h.statement,
		"holder_transaction_open_for", time.Duration(h.open) * time.Second, "holder_rows_locked", h.rowsLocked}
}

// serverWaits are the PROCESSLIST states of a session that waits for a lock
// of the server's, not a row's: a global read lock or a backup's
// (FLUSH TABLES WITH READ LOCK, a locking dump, mariabackup's BLOCK_COMMIT;
// MariaDB says backup lock, MySQL global read lock, or commit lock), or a
// table's metadata lock (a DDL waiting behind a long transaction, which
// every statement on the table then waits behind).
const serverWaits = "'Waiting for backup lock', 'Waiting for global read lock', 'Waiting for commit lock', 'Waiting for table metadata lock'"

// probeTables locks, as an append's statements do, the tables an append
// writes (the server's locks on them: global, backup and metadata), and no
// row: no key it asks for is there.
const probeTables = "SELECT 1 FROM log_head h, events e, streams s WHERE h.id = 0 AND e.position = 0 AND s.stream_id = '' FOR UPDATE"

// serverWait is a session that waits for a lock of the server's
// (serverLockWait).
type serverWait struct {
	id         int64 // the probe's own session
	user, host string
	state      string
	ddl        int64 // a session running DDL on the database that waits too, 0 if none
	ddlCommand string
	// The DDL's session's user and host, and how long it has waited (s),
	// read by the statement that finds it.
	ddlUser, ddlHost string
	ddlFor           int64
}

// serverLockWait finds whether a lock of the server's stalls the appends
// (serverWaits): the append's own session that waited is gone once it has
// failed (its connection closed at the deadline ends its statement), so a
// session of the store's takes the locks an append takes, bounded by
// lock_wait_timeout = 1 s, in a transaction rolled back (probeTables), and
// its state is read while it waits. Its id is 0 if it waited for none (it
// took the locks, or waited for a row's). And a DDL
// statement waiting for a table's metadata lock too, if any. PROCESSLIST
// shows a user without PROCESS its own sessions: the probe's is.
func (s *Store) serverLockWait(ctx context.Context) (serverWait, error) {
	conn, err := s.probe.Conn(ctx)
	if err != nil {
		return serverWait{}, err
	}
	defer conn.Close()
	var id, wait int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID(), @@SESSION.lock_wait_timeout").Scan(&id, &wait); err != nil {
		return serverWait{}, err
	}
	if _, err := conn.ExecContext(ctx, "SET SESSION lock_wait_timeout = 1"); err != nil {
		return serverWait{}, err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if _, err := conn.ExecContext(rctx, "SET SESSION lock_wait_timeout = "+strconv.FormatInt(wait, 10)); err != nil {
			// Not back in the pool with the probe's bound: the fence's
			// waits on this pool would end at it.
			conn.Raw(func(any) error { return driver.ErrBadConn }) //nolint:errcheck // the point is the session's end
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return
		}
		tx.QueryRowContext(ctx, probeTables).Scan(new(int64)) //nolint:errcheck // its wait is what is looked at
		tx.Rollback()                                         //nolint:errcheck // nothing written
	}()
	w := serverWait{id: id}
	for {
		err := s.probe.QueryRowContext(ctx, "SELECT USER, IFNULL(HOST, ''), STATE FROM information_schema.PROCESSLIST WHERE ID = ? AND STATE IN ("+serverWaits+")", id).
			Scan(&w.user, &w.host, &w.state)
		if err == nil {
			break
		}
		if !errors.Is(err, sql.ErrNoRows) {
			<-done
			return serverWait{}, err
		}
		select {
		case <-done:
			return serverWait{}, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
	<-done
	if w.state == "Waiting for table metadata lock" {
		var ddl sql.NullString
		err := s.probe.QueryRowContext(ctx, "SELECT ID, IFNULL(USER, ''), IFNULL(HOST, ''), TIME, INFO FROM information_schema.PROCESSLIST "+
			"WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND STATE = 'Waiting for table metadata lock' "+
			"AND (INFO LIKE 'ALTER%' OR INFO LIKE 'CREATE%' OR INFO LIKE 'DROP%' OR INFO LIKE 'RENAME%' OR INFO LIKE 'TRUNCATE%' OR INFO LIKE 'OPTIMIZE%') "+
			"ORDER BY TIME DESC, ID LIMIT 1").Scan(&w.ddl, &w.ddlUser, &w.ddlHost, &w.ddlFor, &ddl)
		if err == nil {
			w.ddlCommand = firstWord(ddl.String)
		}
	}
	return w, nil
}

// firstWord is the first word of a statement, upper case: never its text,
// which may hold a secret.
func firstWord(statement string) string {
	if f := strings.Fields(statement); len(f) > 0 {
		return strings.ToUpper(strings.TrimFunc(f[0], func(r rune) bool { return !unicode.IsLetter(r) }))
	}
	return ""
}

// why says what holds the lock the probe w waited for, and what to do.
func (w serverWait) why() string {
	waiter := fmt.Sprintf("a session of the store's (connection %d, %s) that takes the log's lock as an append does is '%s'", w.id, userAt(w.user, w.host), w.state)
	if w.state == "Waiting for table metadata lock" {
		ddl := "a DDL statement (ALTER TABLE …)"
		if w.ddl != 0 {
			ddl = fmt.Sprintf("connection %d (%s: %s for %d s)", w.ddl, userAt(w.ddlUser, w.ddlHost), w.ddlCommand, w.ddlFor)
		}
		return "a table's metadata lock is held: " + waiter + ", likely behind " + ddl + ", which waits for a long transaction that has read the table " +
			"(every statement on the table then queues behind the DDL): end that transaction, or KILL the DDL and run it when none is open"
	}
	return "the server holds a global read lock or a backup's lock (FLUSH TABLES WITH READ LOCK, a locking mysqldump, mariabackup): " +
		waiter + ", and so is every append, until it is released (UNLOCK TABLES, or the backup ends); take dumps with --single-transaction, which takes no such lock"
}

func (w serverWait) attrs() []any {
	return []any{"waiting_connection_id", w.id, "waiting_user", w.user, "waiting_host", w.host, "waiting_state", w.state,
		"ddl_connection_id", w.ddl, "ddl_user", w.ddlUser, "ddl_host", w.ddlHost, "ddl_statement", w.ddlCommand, "ddl_for", time.Duration(w.ddlFor) * time.Second}
}

// userAt writes a session's account as PROCESSLIST gives it, user@host, or
// the user alone where the server gives no host (a session of its own, one
// over a socket on some servers).
func userAt(user, host string) string {
	if host == "" {
		return user
	}
	return user + "@" + host
}

package mysqlstore

import (
	"context"
	"crypto/x509"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// dialect is MySQL's and MariaDB's SQL for the event store.
var dialect = sqlstore.Dialect{
	// The writer's connections run READ COMMITTED (set at connect): under
	// REPEATABLE READ, SELECT … FOR UPDATE followed by INSERT takes gap locks
	// and livelocks under concurrent writers. They allow several statements
	// in one query, so an append's reads are one round trip, its writes
	// another, then COMMIT.
	Begin: "START TRANSACTION",
	Batch: true,
	// The log_head row's lock orders commits, and so positions, across every
	// writer on the database. The database's clock stamps the events, one
	// clock for all processes: SYSDATE, unlike UTC_TIMESTAMP, is evaluated
	// when the locked row is read, after the lock wait, in the session's
	// time zone (UTC, set at connect).
	//
	// The joins read no row (on a key no row has; MariaDB drops them from
	// the plan, MySQL looks the key up), but take the transaction's locks on
	// the events and streams tables themselves (metadata locks, which DDL
	// such as a migration, or LOCK TABLES, takes exclusively). The reads
	// may wait for them (a batch of reads ends without COMMIT), so a brief
	// lock is waited out here, and the writes, which refuse any lock
	// (RefuseLocks below), then find them held already
	// (TestAnAppendWaitsOutATableLockHeldBriefly).
	LockHead: "SELECT h.position, h.recorded_at, SYSDATE(6) FROM log_head h " +
		"LEFT JOIN events e ON e.position = 0 LEFT JOIN streams s ON s.stream_id = '' WHERE h.id = 1 FOR UPDATE",
	ClockInSQL: true,
	// The same, for a group sent in one round trip: the time also goes to
	// a session variable, which the writes after it in the batch use. It
	// does not wait for the lock (NOWAIT: MariaDB 10.3, MySQL 8.0): the
	// batch's COMMIT is already on the server, and a batch that waited past
	// its caller's deadline would commit after the caller was told it failed.
	// It is also the guard: unless the head and the commit id left with it
	// are the ones given, the time is NULL, and the first write's NOT NULL
	// column refuses it (the writer's sessions are strict, see
	// writerConnector).
	GuardedLockHead: "SELECT position, recorded_at, CAST(@tributary_now := IF(position = ? AND commit_id = ?, " +
		"GREATEST(SYSDATE(6), COALESCE(recorded_at, SYSDATE(6))), NULL) AS DATETIME(6)) FROM log_head WHERE id = 1 FOR UPDATE NOWAIT",
	// The same guard as an UPDATE that also moves the head, on MariaDB
	// (where innodb_lock_wait_timeout = 0 refuses a row lock outright; a
	// MySQL session waits a second at least): one statement, through no
	// optimizer's join and with no result, in place of the locking read
	// and the head's UPDATE, about a tenth of a one-event append's time in
	// the database (docs/performance.md). An UPDATE that finds the row
	// locked is refused at once (MariaDB 10.11 refuses it whether or not
	// the row's last committed version matches; one that skipped a row
	// that does not would leave the time NULL): either way the batch stops.
	// The time is read back after the writes, just before COMMIT.
	GuardedHead: "UPDATE log_head SET position = ?, commit_id = ?, " +
		"recorded_at = (@tributary_now := GREATEST(SYSDATE(6), COALESCE(recorded_at, SYSDATE(6)))) " +
		"WHERE id = 1 AND position = ? AND commit_id = ?",
	CommitTime: "SELECT CAST(@tributary_now AS DATETIME(6))",
	// Before anything that sends COMMIT, the session refuses to wait for a
	// lock (0 s; MySQL's least is 1 s): a table's (DDL, LOCK TABLES), the
	// backup lock mariadb-backup's BACKUP STAGE BLOCK_COMMIT takes on
	// commits (lock_wait_timeout), or a row's or gap's that another session
	// holds (innodb_lock_wait_timeout: a report's locking read of events).
	// The writer waits out a refused lock itself, and tries again (Refused).
	// The reads wait as the server or the DSN says (WaitForLocks, at Open).
	GuardedSet:     "SET @tributary_now = NULL, SESSION lock_wait_timeout = 0, innodb_lock_wait_timeout = 0",
	RefuseLocks:    "SET SESSION lock_wait_timeout = 0, innodb_lock_wait_timeout = 0",
	Refused:        func(err error) bool { return isMySQLError(err, errLockWaitTimeout, errLockNoWait) },
	GuardFailed:    func(err error) bool { return isMySQLError(err, errBadNull) },
	NowVar:         "@tributary_now",
	LockStreams:    " FOR UPDATE", // NOWAIT where the server takes it (Open)
	UpsertStreams:  " ON DUPLICATE KEY UPDATE stream_type = VALUES(stream_type), created_at = VALUES(created_at)",
	IndexHint:      sqlstore.ForceIndex,
	MaxInsertRows:  500,     // and about 1 MiB of payload: well inside
	MaxInsertBytes: 1 << 20, // max_allowed_packet (16 MiB on MariaDB)
	Lost:           lost,
	SessionLost:    sessionLost,
	ReadAgain:      readAgain,
	Unrun:          func(err error) bool { return isMySQLError(err, errUserLimit) },
	Retryable:      func(err error) bool { return isMySQLError(err, errDeadlock, errLockWaitTimeout) },
	Conflict:       func(err error) bool { return isMySQLError(err, errDupKey) },
	Translate:      translate,
}

// MySQL error numbers the store acts on.
const (
	errDupKey           = 1062
	errLockWaitTimeout  = 1205 // also MariaDB's for a lock NOWAIT did not wait for
	errLockNoWait       = 3572 // MySQL's for a lock NOWAIT did not wait for
	errDeadlock         = 1213
	errBadNull          = 1048 // a NULL in a NOT NULL column: a guarded batch's failed guard
	errTooManyConns     = 1040
	errServerShutdown   = 1053
	errQueryInterrupted = 1317 // the statement was killed
	errConnKilled       = 1927 // MariaDB: the connection was killed
	errConnCount        = 1203 // user has too many connections
	errUserLimit        = 1226 // the user's account is past a limit of its own (MAX_USER_CONNECTIONS, … PER_HOUR)
	errAccessDenied     = 1227 // the user lacks a privilege the statement needs
	errTableAccess      = 1142 // "INSERT command denied to user … for table …"
	errColumnAccess     = 1143 // the same, for a column
	errUnknownTable     = 1109 // "Unknown table … in information_schema": MySQL 8.0 has no INNODB_LOCK_WAITS
	errUserDenied       = 1045 // a new session refused: "Access denied for user … (using password: YES)"
	errDBDenied         = 1044 // a new session refused the database: "Access denied for user … to database …"
	errUnknownVariable  = 1193 // no system variable of that name
	errPacketTooLarge   = 1153 // a query larger than max_allowed_packet
	errStatementTime    = 1969 // MariaDB: max_statement_time exceeded
	errQueryTimeout     = 3024 // MySQL: max_execution_time exceeded
	errReadOnly         = 1290 // an option prevents the statement: read_only, super_read_only
	errReadOnlyMode     = 1836 // MySQL: running in read-only mode (innodb_read_only)
	errReadOnlyTx       = 1792 // a statement in a READ ONLY transaction: the server's transaction_read_only
	errTableReadOnly    = 1036 // "Table '…' is read only": MariaDB's innodb_read_only
	errNoDefault        = 1364 // "Field '…' doesn't have a default value": a column the store does not write
	errHostBlocked      = 1129 // a new session refused: this host blocked after too many connection errors
	errHostDenied       = 1130 // a new session refused: no account for this host
	errOfflineMode      = 3032 // MySQL: a new session refused, the server in offline_mode
	errAccountLocked    = 4151 // MariaDB (MySQL: 3118): a new session refused, the account locked
	errMySQLLocked      = 3118
	errPasswordExpired  = 1820 // every statement refused until the password is changed (MariaDB; MySQL's sandbox)
	errExpiredAtLogin   = 1862 // MySQL: a new session refused, its password expired
	errNoPassword       = 1698 // a new session refused: the account authenticates another way (unix_socket)
	errInitConnect      = 1184 // a new session aborted: "Aborted connection … (init_connect command failed)"
	errDiscarded        = 1814 // "Tablespace has been discarded for table `…`": a table's file being restored
	errNotInEngine      = 1932 // "Table 'db.t' doesn't exist in engine": its file missing
	errOutOfMemory      = 1037
	errOutOfSortMemory  = 1038
	errOutOfResources   = 1041 // out of memory, the server says
	errNoThread         = 1135 // a new session refused: no thread for it
	errTooManyTrx       = 1637 // no room for another transaction (undo slots)
	errNoDatabase       = 1046 // no database selected: the session's database was dropped under it
	errUnknownDB        = 1049 // a new session's database does not exist
	errTableFull        = 1114 // "The table '…' is full": its tablespace at its fixed size, or its disk full
	errDiskFull         = 1021 // the disk is full (the server waits for room, then gives up)
	errEngine           = 1030 // "Got error N from storage engine": N, the OS's errno, only in its message
	errWriteFile        = 3    // "Error writing file '…' (Errcode: N …)": N, the OS's errno, only in its message
	errNoSuchKey        = 1176 // "Key 'k' doesn't exist in table 't'": an index a read forces (FORCE INDEX) dropped
	// errNoSuchTable (1146) and errUnknownColumn (1054) are in replica.go.
)

// translate maps driver errors to the store's vocabulary, by number, at the
// edge: an unreachable server becomes eventstore.ErrUnavailable.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errTooManyConns, errServerShutdown, errConnCount, errUserLimit, errNotReady, errConnKilled, errQueryInterrupted:
			return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
		case errOutOfMemory, errOutOfSortMemory, errOutOfResources, errNoThread, errTooManyTrx:
			// The server is out of memory, threads or room for another
			// transaction: its passing trouble, not the service's. The
			// statement failed; nothing of it was written.
			return fmt.Errorf("%w: the database is out of resources (memory, threads or transactions): %w", eventstore.ErrUnavailable, err)
		case errHostBlocked:
			// Blocked until an operator unblocks the host, however long
			// the service waits: a refusal, not a passing outage.
			return refusal{fmt.Errorf("%w: %w", eventstore.ErrUnavailable, hostBlocked(err))}
		case errOfflineMode:
			// MySQL's offline_mode: an operator's switch for maintenance,
			// as read_only is, which refuses every new session of a user
			// without CONNECTION_ADMIN until it is set OFF again.
			return refusal{fmt.Errorf("%w: the database refuses new sessions of the DSN's user (offline_mode: maintenance under way? "+
				"it takes them again once offline_mode is OFF): %w", eventstore.ErrUnavailable, err)}
		case errDeadlock, errLockWaitTimeout:
			// Still failing after the writer's retries. Nothing of the
			// transaction was committed: on Galera, 1213 at COMMIT is a
			// certification failure against another node's commit. A
			// retry later may pass; this is neither the client's fault
			// (a 409) nor the service's (a 500).
			return fmt.Errorf("%w: the database kept refusing the transaction: %w", eventstore.ErrUnavailable, err)
		case errStatementTime, errQueryTimeout:
			// The server's own bound on a statement's time (MariaDB's
			// max_statement_time, MySQL's max_execution_time, the
			// server's or the DSN's) ended it, as the store's own bound
			// on a read ends one (a deadline): nothing was written (an
			// append's batch that may have committed first is settled:
			// see lost).
			return fmt.Errorf("%w: the database ended the statement at its time limit: %w", eventstore.ErrUnavailable, err)
		case errReadOnly, errReadOnlyMode, errReadOnlyTx, errTableReadOnly:
			// A server made read-only (a switchover: the old primary is
			// set read_only before a replica is promoted and the DSN's
			// name moves to it; or restarted with innodb_read_only, or
			// its sessions' transactions made read-only, for maintenance)
			// refuses every write, the fence's too: the database's
			// passing trouble, as when it is out of reach. The statement
			// was refused: nothing was written.
			return refusal{fmt.Errorf("%w: the database refuses writes (read-only: read_only, innodb_read_only or transaction_read_only; "+
				"a switchover or maintenance under way?): %w", eventstore.ErrUnavailable, err)}
		case errNoDefault:
			// The store writes every column of its schema's tables but
			// the ones with a default: a NOT NULL column without one is a
			// schema not this release's (streams.version, which migration
			// 12 dropped). Nothing was written. The server's words name
			// the column ("Field 'legacy' …"), not its table.
			e := &eventstore.UnwrittenColumnError{Column: "(named in the database's error)", Err: me}
			if _, name, _ := strings.Cut(me.Message, "'"); strings.Contains(name, "'") {
				e.Column, _, _ = strings.Cut(name, "'")
			}
			return e
		case errNoSuchTable, errUnknownDB, errNoDatabase, errUnknownColumn, errDiscarded, errNotInEngine, errNoSuchKey:
			return missing(me)
		case errInitConnect:
			// The server's init_connect (which it runs for each new
			// session of a user without SUPER) failed: a server setting
			// for an operator to mend.
			return fmt.Errorf("%w: the database aborts each new session (its init_connect failing?): %w", eventstore.ErrUnavailable, err)
		case errTableAccess, errColumnAccess:
			// Privileges revoked from the DSN's user while the store runs
			// (start-up refuses a user without them: checkWrites). The
			// statement was refused before it ran: nothing was written. An
			// operator must grant them again; the server's words name the
			// command, the user and the table, never the password.
			return refusal{fmt.Errorf("%w: %w", eventstore.ErrUnavailable, privilegeDenied(me))}
		case errAccessDenied:
			// A privilege revoked while the store runs (start-up refuses
			// a user without it: translateAtStart) that a statement, or a
			// setting each new session makes, needs: the DSN's own
			// parameters, and binlog_format where rowBinlog sets it
			// (deniedSetting names them, where the store is known). The
			// server's words name the privilege.
			return refusal{fmt.Errorf("%w: the database denies the DSN's user a privilege that the store's sessions or statements need; grant it again: %w",
				eventstore.ErrUnavailable, err)}
		case errAccountLocked, errMySQLLocked:
			return refusal{fmt.Errorf("%w: the database refuses the DSN's user a new session: its account is locked (ALTER USER … ACCOUNT UNLOCK): %w",
				eventstore.ErrUnavailable, err)}
		case errPasswordExpired, errExpiredAtLogin:
			// A password lifetime (default_password_lifetime, PASSWORD
			// EXPIRE INTERVAL) ended, or an operator expired it: the
			// session refuses every statement until it is changed.
			// Nothing was written.
			return refusal{fmt.Errorf("%w: the DSN's user's password has expired: set a new one (and give it in the DSN), "+
				"or let it not expire (ALTER USER … PASSWORD EXPIRE NEVER): %w", eventstore.ErrUnavailable, err)}
		case errUserDenied, errDBDenied, errHostDenied, errNoPassword:
			// A new session refused while the store runs (it was let in
			// at start-up: translateAtStart): the user's password changed,
			// the user dropped, or its access to the database taken away.
			// Nothing was sent. The server's words name the user, never
			// the password.
			return refusal{fmt.Errorf("%w: the database refuses the DSN's user a new session (its password changed, or the user "+
				"dropped, or its access to the database revoked?): %w", eventstore.ErrUnavailable, err)}
		case errTableFull, errDiskFull, errEngine, errWriteFile:
			if full(me) {
				// The statement failed, and with it its transaction:
				// nothing was written (a batch stops at its first failing
				// statement, before COMMIT). A retry may pass once an
				// operator has made room; this is no bug of the service's.
				return fmt.Errorf("%w: %w: a table, or the disk beneath it, can take no more; free space on the "+
					"database's disk, or let its tablespace grow: %w", eventstore.ErrUnavailable, eventstore.ErrFull, err)
			}
		case errPacketTooLarge:
			// The writer sizes its statements to fit (MaxGroupBytes); should
			// one still be past the packet, the append cannot be written as
			// it is, however often it is sent.
			return fmt.Errorf("%w: the database refused the append's statement as larger than its max_allowed_packet; send fewer or smaller events in each append",
				eventstore.ErrTooLarge)
		}
		return err
	}
	if errors.Is(err, mysql.ErrPktTooLarge) {
		return fmt.Errorf("%w: the append's statement is larger than the database takes (its max_allowed_packet); send fewer or smaller events in each append",
			eventstore.ErrTooLarge)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ne net.Error
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne) {
		return fmt.Errorf("%w: %w", eventstore.ErrUnavailable, err)
	}
	return err
}

// hostBlocked is the error for err, the server refusing every new session
// from the service's host (1129) after max_connect_errors connections from
// it failed their handshake (a load balancer's or a scanner's bare TCP
// connections, a network that cuts them): blocked until an operator
// unblocks it. The server's words name the host.
func hostBlocked(err error) error {
	return fmt.Errorf("the database refuses new sessions from this host after too many connection errors (max_connect_errors), "+
		"until an operator unblocks it: FLUSH HOSTS (mariadb-admin flush-hosts; on MySQL 8.0, TRUNCATE TABLE performance_schema.host_cache); "+
		"then find what cuts connections from this host during their handshake, or raise max_connect_errors: %w", err)
}

// refusal is an error of translate's for the database refusing the DSN's
// user or its writes (a privilege, the account, the password, read-only),
// marked eventstore.ErrRefused (the metric of 503s counts it apart), its
// words as they are.
type refusal struct{ error }

func (e refusal) Unwrap() []error { return []error{e.error, eventstore.ErrRefused} }

// privilegeDenied is the error for me, a statement refused a privilege on
// a table or a column (1142, 1143), naming the privilege and the table as
// the server's message does ("INSERT command denied to user 'app'@'h' for
// table `db`.`events`", MySQL's "… for table 'events'", "… for column 'c'
// in table 't'"), "" where it does not say them so. The user it names
// stays in the server's words, for the log.
func privilegeDenied(me *mysql.MySQLError) *eventstore.PrivilegeError {
	e := &eventstore.PrivilegeError{Err: me}
	if privilege, _, ok := strings.Cut(me.Message, " command denied"); ok && privilege != "" &&
		strings.Trim(privilege, "ABCDEFGHIJKLMNOPQRSTUVWXYZ ,") == "" {
		e.Privilege = privilege
	}
	if i := strings.LastIndex(me.Message, " table "); i >= 0 {
		table := strings.TrimSpace(me.Message[i+len(" table "):])
		if j := strings.LastIndex(table, "."); j >= 0 {
			table = table[j+1:] // without the database
		}
		if table = strings.Trim(table, "`'\""); table != "" && !strings.ContainsAny(table, "`' ") {
			e.Table = table
		}
	}
	return e
}

// full reports whether me says the database is out of room: a table full
// (1114), the disk full (1021), or the storage engine's or a file's write
// failed with the OS's ENOSPC (errno 28), whose number the server gives
// only in its message ("Got error 28 …", "(Errcode: 28 …", "(errno: 28 …").
func full(me *mysql.MySQLError) bool {
	switch me.Number {
	case errTableFull, errDiskFull:
		return true
	}
	for _, s := range []string{"error 28 ", "Errcode: 28 ", "errno: 28 ", "Errcode: 28)", "errno: 28)"} {
		if strings.Contains(me.Message, s) {
			return true
		}
	}
	return false
}

// missing is the error for a table, a column, or the database, that the
// server says is not there. While the store serves, it was there at Open
// and Migrate (translateAtStart): it was dropped, or a restore is under way
// in its place, or an older schema was restored (a column missing), an
// outage that an operator must mend, never a 500 (eventstore.MissingError,
// unavailable). The number says what is missing; the name is the server's
// message's ("Table 'db.events' doesn't exist", "Unknown database 'db'",
// "Unknown column 'h.commit_id' in 'field list'"), "" if it is not there
// as expected. An index that a read of the log forces (FORCE INDEX),
// dropped while the service runs ("Key 'k' doesn't exist in table 't'"),
// is named with the statement that makes it again: only the reads that
// force it fail, until an operator runs it.
func missing(me *mysql.MySQLError) error {
	e := &eventstore.MissingError{Err: me}
	quote := "'"
	if me.Number == errDiscarded {
		quote = "`"
	}
	_, name, _ := strings.Cut(me.Message, quote)
	name, _, quoted := strings.Cut(name, quote)
	switch me.Number {
	case errDiscarded:
		e.Table = "(named in the database's error)"
		if quoted {
			e.Table = name
		}
	case errNoSuchTable, errNotInEngine:
		e.Table = "(named in the database's error)"
		if db, table, ok := strings.Cut(name, "."); quoted && ok {
			e.Database, e.Table = db, table
		}
	case errUnknownDB:
		if quoted {
			e.Database = name
		}
	case errNoSuchKey:
		e.Index = "(named in the database's error)"
		if quoted {
			e.Index = name
			e.Create = migrations.AddKeyMySQL(name)
			e.UseAgain = migrations.UseKeyAgainMySQL(name)
		}
	case errUnknownColumn:
		e.Column = "(named in the database's error)"
		if quoted {
			e.Column = name[strings.LastIndex(name, ".")+1:] // without the statement's table or alias
		}
	}
	return e
}

// translateAtStart is translate for start-up (Open, Migrate) with cfg:
// there a database that does not exist is a DSN to fix (a misspelt name, a
// database not created yet), a table missing a schema to fix, and a user
// refused (a wrong password, a privilege missing) a DSN or grant to fix,
// which fail at once with the server's error, not an outage to wait out.
func translateAtStart(err error, cfg *mysql.Config) error {
	var unknownCA x509.UnknownAuthorityError
	var otherHost x509.HostnameError
	switch {
	case errors.As(err, &unknownCA):
		return untrustedCA(err, os.Getenv("SSL_CERT_FILE"), runtime.GOOS)
	case errors.Is(err, mysql.ErrNoTLS):
		// The driver's words said what failed, not what to do.
		return fmt.Errorf("the DSN asks for TLS (tls=%s), which the server does not offer: enable TLS on the server "+
			"(MariaDB and MySQL: ssl_cert and ssl_key; have_ssl then says YES), or, on a network you trust alone, remove tls from the DSN: %w", cfg.TLSConfig, err)
	case errors.As(err, &otherHost):
		return fmt.Errorf("the server's TLS certificate is not for the host the DSN names (%s): name the server by a host its certificate "+
			"names: %w", otherHost.Host, err)
	case isMySQLError(err, errUnknownDB):
		return fmt.Errorf("the database %s does not exist on the server: check the database name in the DSN, or create the database: %w", cfg.DBName, err)
	case errors.Is(err, mysql.ErrPktTooLarge):
		return packetTooSmall(err, cfg, primaryDSN)
	case isMySQLError(err, errAccessDenied):
		return deniedSetting(err, cfg)
	case isMySQLError(err, errHostBlocked):
		// No retry within the start-up timeout mends it: an operator must.
		return hostBlocked(err)
	case isMySQLError(err, errNoSuchTable, errUnknownColumn, errDiscarded, errNotInEngine, errNoDatabase, errUserDenied, errDBDenied, errHostDenied, errNoPassword,
		errAccountLocked, errMySQLLocked, errPasswordExpired, errExpiredAtLogin, errTableAccess, errColumnAccess):
		// A DSN's user or password to fix, not an outage to wait out.
		return err
	}
	return translate(err)
}

// packetTooSmall is the start's error where the driver would not send a
// statement of the start-up's (err, mysql.ErrPktTooLarge): larger than the
// maxAllowedPacket of setting's DSN, cfg (16 meant as 16 MiB), since the
// server's own bound is read only where the DSN sets none. Translated as an
// append's, it told the operator to send smaller events, though nothing
// was appended.
func packetTooSmall(err error, cfg *mysql.Config, setting string) error {
	return &packetError{fmt.Errorf("%s has maxAllowedPacket=%d, in bytes, smaller than the statements the store sends: remove it "+
		"(the driver then takes the server's max_allowed_packet), or give it in bytes (67108864 for 64 MiB): %w", setting, cfg.MaxAllowedPacket, err)}
}

// packetError is packetTooSmall's error.
type packetError struct{ error }

func (e *packetError) Unwrap() error { return e.error }

// untrustedCA is the start's error for err, a server certificate signed by
// an authority this host does not trust, with certFile SSL_CERT_FILE's
// value. Go's words alone named no way to trust a private CA's; and Go
// drops an SSL_CERT_FILE it cannot read, or that holds no certificate,
// without a word, where telling the operator to set it, set already (a
// secret not mounted, a typo), sent them nowhere. The file's name is
// shown: it is a path, no secret. On goos where Go reads no SSL_CERT_FILE
// (PrivateCAAdvice), the advice is the system's store, whatever the file.
func untrustedCA(err error, certFile, goos string) error {
	const prefix = "the server's TLS certificate is signed by an authority this host does not trust (tls=true verifies it against the system's roots): "
	if !readsSSLCertFile(goos) {
		return fmt.Errorf(prefix+"for a private CA (a cloud database's, a company's), %s: %w", PrivateCAAdvice(goos), err)
	}
	if certFile == "" {
		return fmt.Errorf(prefix+"for a private CA (a cloud database's, a company's), %s "+
			"(in the image, mount the file and set the variable): %w", PrivateCAAdvice(goos), err)
	}
	pemBytes, readErr := os.ReadFile(certFile)
	switch {
	case readErr != nil:
		return fmt.Errorf(prefix+"SSL_CERT_FILE is set, but its file cannot be read (%w), so the system's roots were used without it: "+
			"mount the CA's PEM file there (in the image: a secret not mounted?), or correct the variable: %w", readErr, err)
	case !x509.NewCertPool().AppendCertsFromPEM(pemBytes):
		return fmt.Errorf(prefix+"SSL_CERT_FILE is set, but its file holds no PEM certificate (%s), so it was passed over: "+
			"give the CA's certificate in PEM, -----BEGIN CERTIFICATE----- lines: %w", certFile, err)
	}
	return fmt.Errorf(prefix+"none of the certificates in SSL_CERT_FILE's file (%s) signed it: give the PEM file of the CA "+
		"that signed the server's certificate (its chain's root): %w", certFile, err)
}

// PrivateCAAdvice says how to have the system's roots, as Go reads them on
// goos, take a private CA. Go reads SSL_CERT_FILE only on Linux and the
// other Unixes (the image): on macOS and iOS it verifies with the
// keychains, on Windows with the certificate store, and the variable
// changes nothing there.
func PrivateCAAdvice(goos string) string {
	switch goos {
	case "darwin", "ios":
		return "add it to the System keychain, trusted for SSL (security add-trusted-cert); SSL_CERT_FILE is not read on macOS"
	case "windows":
		return "import it into the Trusted Root Certification Authorities certificate store; SSL_CERT_FILE is not read on Windows"
	}
	return "set SSL_CERT_FILE to its PEM file"
}

// readsSSLCertFile reports whether Go's system roots on goos read
// SSL_CERT_FILE (crypto/x509's root_unix.go: not macOS, iOS or Windows).
func readsSSLCertFile(goos string) bool {
	return goos != "darwin" && goos != "ios" && goos != "windows"
}

// deniedSetting is the error for err, a refusal of a privilege the user
// of cfg lacks (1227: "Access denied; you need (at least one of) the …
// privilege(s)", which names it), that names what needs it: the store
// sends no statement that needs a privilege of its own but the settings
// of each new session, the DSN's parameters and binlog_format where
// rowBinlog set it. It is a refusal (eventstore.ErrRefused), and does not
// wrap eventstore.ErrUnavailable: Store's translate wraps it so while the
// store runs.
func deniedSetting(err error, cfg *mysql.Config) error {
	var names []string
	for name := range cfg.Params {
		if !unprivileged[strings.ToLower(name)] {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return refusal{fmt.Errorf("the database denies the DSN's user a privilege a statement of the store's needs; grant it: %w", err)}
	}
	slices.Sort(names)
	binlog := ""
	if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, "binlog_format") }) {
		binlog = " (binlog_format: the store sets it to ROW where the server's binary log would log its writes as statements; " +
			"set binlog_format=ROW or MIXED on the server, and it need not)"
	}
	return refusal{fmt.Errorf("the database denies the DSN's user a privilege that a setting each session of the store makes needs: it sets %s%s; "+
		"grant the user the privilege the server names, or remove the DSN's parameter that needs it: %w", strings.Join(names, ", "), binlog, err)}
}

// unprivileged are the session variables the store sets on every session
// (normalise, committedReads, writerConnector) that need no privilege.
var unprivileged = map[string]bool{"time_zone": true, "autocommit": true, "completion_type": true, "character_set_client": true,
	"character_set_connection": true, "character_set_results": true, "sql_select_limit": true, "transaction_isolation": true,
	"tx_isolation": true, "sql_mode": true, "wsrep_sync_wait": true}

// lost reports an error by which a round trip ended without an answer
// that says how far it got: its session was lost (sessionLost), or the
// server refused a statement that can come after COMMIT: a batch that
// begins the next group's reads behind a marker sends a SELECT after
// COMMIT, which the account's query limit (MAX_QUERIES_PER_HOUR, counted
// statement by statement) or the server's limit on a statement's time can
// refuse, the batch having committed. Any other error the server sent is
// not one: it answered, and a batch stops at its first failing statement.
// (The query limit refuses a statement before it runs: in a batch that ends
// with COMMIT, it says that the batch did not commit; see Unrun.)
func lost(err error) bool {
	return sessionLost(err) || isMySQLError(err, errUserLimit, errStatementTime, errQueryTimeout)
}

// sessionLost reports an error by which the session was lost under its
// statement: the connection failed, or the driver cut it at the context's
// end, or the server killed the session or the statement, or shut down.
// Work that commits nothing a second run would not (settling, the fence)
// may run again on another session. A statement the server ended at its
// time limit, or refused at the account's limit, is not one: the session
// is alive, and another session meets the same limit.
func sessionLost(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errServerShutdown, errConnKilled, errQueryInterrupted:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// readAgain reports an error by which a read's connection was lost once
// its statement had gone out (the driver's ErrInvalidConn; a connection
// closed while it sat idle in the pool, which its check before a statement
// did not see): the read is sent again on another connection
// (sqlstore.Dialect.ReadAgain). Not a time limit (a network timeout, the
// context's end): a statement that ran out its time would wait it out
// again; not the server's answer, which another session meets the same.
func readAgain(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func isMySQLError(err error, numbers ...uint16) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	for _, n := range numbers {
		if me.Number == n {
			return true
		}
	}
	return false
}

// mariaDB reports whether a server of version (SELECT VERSION()) is MariaDB.
func mariaDB(version string) bool { return strings.Contains(version, "MariaDB") }

// lockNoWait reports whether a server of version (SELECT VERSION()) takes
// FOR UPDATE NOWAIT: MariaDB from 10.3, MySQL from 8.0.
func lockNoWait(version string) bool {
	maria := mariaDB(version)
	if maria {
		version = strings.TrimPrefix(version, "5.5.5-") // the old replication prefix
	}
	major, minor, ok := majorMinor(version)
	switch {
	case !ok:
		return false
	case maria:
		return major > 10 || major == 10 && minor >= 3
	}
	return major >= 8
}

// majorMinor reads the leading "major.minor" of a version string.
func majorMinor(version string) (major, minor int, ok bool) {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return major, minor, err1 == nil && err2 == nil
}

package mysqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

func TestLockNoWaitKnowsWhichServersTakeNOWAIT(t *testing.T) {
	for version, want := range map[string]bool{
		"10.11.19-MariaDB-0+deb12u1": true,
		"10.3.39-MariaDB":            true,
		"10.2.44-MariaDB-log":        false,
		"11.4.2-MariaDB":             true,
		"5.5.5-10.6.12-MariaDB":      true, // as some proxies report it
		"8.0.36":                     true,
		"8.4.0-commercial":           true,
		"5.7.44-log":                 false,
		"":                           false,
		"garbage":                    false,
	} {
		if got := lockNoWait(version); got != want {
			t.Errorf("lockNoWait(%q) = %v; want %v", version, got, want)
		}
	}
}

// TestLostKnowsAnAnswerFromItsAbsence: the errors after which a round trip
// with COMMIT may or may not have committed (settled, sqlstore's settle.go),
// and those by which the server said how far it got; and among the first,
// those by which the session itself was lost (settling and the fence run
// again on another), not the server's refusals on a live session.
func TestLostKnowsAnAnswerFromItsAbsence(t *testing.T) {
	for _, c := range []struct {
		err           error
		want, session bool
	}{
		{mysql.ErrInvalidConn, true, true},
		{fmt.Errorf("write events and head, and commit: %w", mysql.ErrInvalidConn), true, true},
		{driver.ErrBadConn, true, true},
		{io.ErrUnexpectedEOF, true, true},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true, true},
		{context.DeadlineExceeded, true, true},
		{fmt.Errorf("x: %w", context.Canceled), true, true},
		{&mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}, true, true},
		{&mysql.MySQLError{Number: 1927, Message: "Connection was killed"}, true, true},
		{fmt.Errorf("commit: %w", &mysql.MySQLError{Number: 1317, Message: "Query execution was interrupted"}), true, true},
		// Refusals that can meet a SELECT sent after COMMIT in the batch,
		// on a session that lives on.
		{&mysql.MySQLError{Number: 1226, Message: "User 'app' has exceeded the 'max_queries_per_hour' resource"}, true, false},
		{&mysql.MySQLError{Number: 1969, Message: "Query execution was interrupted (max_statement_time exceeded)"}, true, false},
		{&mysql.MySQLError{Number: 3024, Message: "Query execution was interrupted, maximum statement execution time exceeded"}, true, false},
		{&mysql.MySQLError{Number: 1290, Message: "The MariaDB server is running with the --read-only option"}, false, false},
		{&mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, false, false},
		{&mysql.MySQLError{Number: 1048, Message: "Column 'recorded_at' cannot be null"}, false, false},
		{&mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, false, false},
		{&mysql.MySQLError{Number: 1213, Message: "Deadlock found"}, false, false},
		{errors.New("something else"), false, false},
	} {
		if got := lost(c.err); got != c.want {
			t.Errorf("lost(%v) = %v; want %v", c.err, got, c.want)
		}
		if got := sessionLost(c.err); got != c.session {
			t.Errorf("sessionLost(%v) = %v; want %v", c.err, got, c.session)
		}
	}
}

// TestTranslateMakesAKilledSessionUnavailable: a session killed or shut down
// under an append, its outcome settled and still failed, is the database's
// trouble (503), not the service's (500) nor the client's; and so are a
// server that refuses writes as read-only (1290, MySQL's 1836), a
// statement the server ended at its time limit (1969, MySQL's 3024), and a
// user past its connection limit, the server's (1203) or its account's
// (1226).
func TestTranslateMakesAKilledSessionUnavailable(t *testing.T) {
	for _, n := range []uint16{1053, 1317, 1927, 1290, 1836, 1969, 3024, 1203, 1226} {
		if err := translate(&mysql.MySQLError{Number: n}); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("translate(MySQL error %d) = %v; want ErrUnavailable", n, err)
		}
	}
	if err := translate(&mysql.MySQLError{Number: 1062}); errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("translate(MySQL error 1062) = %v; want it left as it is", err)
	}
}

// TestTranslateNamesWhatIsMissing: a table or the database dropped under
// the store (1146, 1049, 1046) is unavailable, naming what is missing, while
// the store serves; at start-up a database that does not exist is a DSN to
// fix, and fails at once (not unavailable, which start-up waits out).
func TestTranslateNamesWhatIsMissing(t *testing.T) {
	for _, c := range []struct {
		err       *mysql.MySQLError
		db, table string
	}{
		{&mysql.MySQLError{Number: 1146, Message: "Table 'app.events' doesn't exist"}, "app", "events"},
		{&mysql.MySQLError{Number: 1146, Message: "something else"}, "", "(named in the database's error)"},
		{&mysql.MySQLError{Number: 1049, Message: "Unknown database 'app'"}, "app", ""},
		{&mysql.MySQLError{Number: 1046, Message: "No database selected"}, "", ""},
		{&mysql.MySQLError{Number: 1814, Message: "Tablespace has been discarded for table `events`"}, "", "events"},
		{&mysql.MySQLError{Number: 1932, Message: "Table 'app.events' doesn't exist in engine"}, "app", "events"},
	} {
		err := translate(c.err)
		var me *eventstore.MissingError
		if !errors.As(err, &me) || !errors.Is(err, eventstore.ErrUnavailable) || me.Database != c.db || me.Table != c.table || !errors.Is(err, c.err) {
			t.Errorf("translate(%v) = %#v; want a MissingError of database %q, table %q, unavailable, wrapping the error", c.err, err, c.db, c.table)
		}
		if err := translateAtStart(c.err, &mysql.Config{DBName: "app"}); errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, c.err) {
			t.Errorf("translateAtStart(%v) = %v; want the error, not unavailable", c.err, err)
		}
	}
	if err := translateAtStart(&mysql.MySQLError{Number: 1049, Message: "Unknown database 'apq'"}, &mysql.Config{DBName: "apq"}); !strings.Contains(err.Error(), "the database apq does not exist") {
		t.Errorf("translateAtStart(1049) = %v; want it to say that the database does not exist", err)
	}
	if err := translateAtStart(&mysql.MySQLError{Number: 1053}, &mysql.Config{DBName: "app"}); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("translateAtStart(1053) = %v; want it unavailable, as translate makes it", err)
	}
}

func TestAGroupsLockWaitsEndByItsDeadline(t *testing.T) {
	for _, tc := range []struct {
		lockWait, rowLockWait float64
		left                  time.Duration
		want                  string
	}{
		{31536000, 50, 30 * time.Second, "lock_wait_timeout = 30, innodb_lock_wait_timeout = 30"},
		{31536000, 50, 1500 * time.Millisecond, "lock_wait_timeout = 1, innodb_lock_wait_timeout = 1"}, // ends before the deadline
		{31536000, 50, 29999 * time.Millisecond, "lock_wait_timeout = 29, innodb_lock_wait_timeout = 29"},
		{31536000, 50, 10 * time.Millisecond, "lock_wait_timeout = 1, innodb_lock_wait_timeout = 1"},
		{31536000, 50, -time.Second, "lock_wait_timeout = 1, innodb_lock_wait_timeout = 1"},  // at least 1
		{5, 3, 30 * time.Second, "lock_wait_timeout = 5, innodb_lock_wait_timeout = 3"},      // the session's, if shorter
		{86400, 0, 30 * time.Second, "lock_wait_timeout = 30, innodb_lock_wait_timeout = 0"}, // a DSN's refusal at once stays
	} {
		got := waitForLocks(tc.lockWait, tc.rowLockWait, tc.left)
		if want := "SET SESSION " + tc.want; got != want {
			t.Errorf("waitForLocks(%v, %v, %v) = %q, want %q", tc.lockWait, tc.rowLockWait, tc.left, got, want)
		}
	}
}

// TestTranslateKnowsAFullDatabase: a table full (1114), the disk full
// (1021), and a write the OS refused for want of room (errno 28, which the
// server gives only in the message of 1030 and of 3) are eventstore.ErrFull
// with ErrUnavailable, a 503; another engine's or file's error is not.
func TestTranslateKnowsAFullDatabase(t *testing.T) {
	for _, c := range []struct {
		err  *mysql.MySQLError
		full bool
	}{
		{&mysql.MySQLError{Number: 1114, Message: "The table 'events' is full"}, true},
		{&mysql.MySQLError{Number: 1021, Message: "Disk full (/tmp/#sql_1.MAI); waiting for someone to free some space... (errno: 28 \"No space left on device\")"}, true},
		{&mysql.MySQLError{Number: 1030, Message: "Got error 28 \"No space left on device\" from storage engine InnoDB"}, true},
		{&mysql.MySQLError{Number: 3, Message: "Error writing file './ibtmp1' (Errcode: 28 - No space left on device)"}, true},
		{&mysql.MySQLError{Number: 3, Message: "Error writing file '/tmp/x' (errno: 28 \"No space left on device\")"}, true},
		{&mysql.MySQLError{Number: 1030, Message: "Got error 128 \"Too many active concurrent transactions\" from storage engine InnoDB"}, false},
		{&mysql.MySQLError{Number: 3, Message: "Error writing file '/tmp/x' (errno: 5 \"Input/output error\")"}, false},
	} {
		err := translate(fmt.Errorf("append: %w", c.err))
		if got := errors.Is(err, eventstore.ErrFull) && errors.Is(err, eventstore.ErrUnavailable); got != c.full {
			t.Errorf("translate(%d %q) = %v; want full %v", c.err.Number, c.err.Message, err, c.full)
		}
	}
}

// TestAUserRefusedAtStartFailsAtOnceAndWhileRunningIsUnavailable: a new
// session refused its user (1045: a wrong password; 1044: no access to
// the database) or a statement its privilege (1142, 1143) is a DSN or a
// grant to fix at start-up, where it fails at once, and the database's
// trouble (a 503) once the store runs, where it was a 500.
func TestAUserRefusedAtStartFailsAtOnceAndWhileRunningIsUnavailable(t *testing.T) {
	for _, me := range []*mysql.MySQLError{
		{Number: 1045, Message: "Access denied for user 'app'@'127.0.0.1' (using password: YES)"},
		{Number: 1044, Message: "Access denied for user 'app'@'%' to database 'tributary'"},
		{Number: 1142, Message: "INSERT command denied to user 'app'@'127.0.0.1' for table `tributary`.`events`"},
		{Number: 1143, Message: "UPDATE command denied to user 'app'@'127.0.0.1' for column 'position' in table 'log_head'"},
	} {
		err := fmt.Errorf("connect: %w", me)
		if got := translate(err); !errors.Is(got, eventstore.ErrUnavailable) {
			t.Errorf("translate(%d) = %v; want ErrUnavailable while the store runs", me.Number, got)
		}
		if got := translateAtStart(err, &mysql.Config{DBName: "tributary"}); errors.Is(got, eventstore.ErrUnavailable) {
			t.Errorf("translateAtStart(%d) = %v; want an error start-up fails on at once", me.Number, got)
		}
		if me.Number == 1045 || me.Number == 1044 {
			if got := translateUserAtStart(err, &mysql.Config{}); errors.Is(got, eventstore.ErrUnavailable) {
				t.Errorf("translateUserAtStart(%d) = %v; want an error start-up fails on at once", me.Number, got)
			}
		}
	}
}

// TestTranslateNamesAMissingColumn: a column the store uses missing while
// it serves (1054: an older schema restored under it) is a MissingError
// naming it, unavailable, as a table missing is; at start-up, a schema to
// fix, which fails at once.
func TestTranslateNamesAMissingColumn(t *testing.T) {
	for _, c := range []struct {
		err    *mysql.MySQLError
		column string
	}{
		{&mysql.MySQLError{Number: 1054, Message: "Unknown column 'batch_size' in 'field list'"}, "batch_size"},
		{&mysql.MySQLError{Number: 1054, Message: "Unknown column 'h.commit_id' in 'where clause'"}, "commit_id"},
		{&mysql.MySQLError{Number: 1054, Message: "something else"}, "(named in the database's error)"},
	} {
		err := translate(fmt.Errorf("append: %w", c.err))
		var me *eventstore.MissingError
		if !errors.As(err, &me) || !errors.Is(err, eventstore.ErrUnavailable) || me.Column != c.column || me.Table != "" || !errors.Is(err, c.err) {
			t.Errorf("translate(%v) = %#v; want a MissingError of column %q, unavailable, wrapping the error", c.err, err, c.column)
		}
		if err := translateAtStart(c.err, &mysql.Config{DBName: "app"}); errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, c.err) {
			t.Errorf("translateAtStart(%v) = %v; want the error, not unavailable", c.err, err)
		}
	}
}

// TestReadyzNamesEveryColumnOfTheStoresTables: Ping's query (readyTables)
// names every column of the tables the store serves from, so that one
// missing (an older schema restored) fails /readyz as a missing table does.
func TestReadyzNamesEveryColumnOfTheStoresTables(t *testing.T) {
	db := mysqltest.NewMigratedDB(t, nil)
	rows, err := db.QueryContext(t.Context(), "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "+
		"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('events', 'streams', 'log_head', 'durability_fence')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			t.Fatal(err)
		}
		n++
		if !strings.Contains(readyTables, " "+table+"."+column+",") && !strings.Contains(readyTables, " "+table+"."+column+" ") {
			t.Errorf("readyTables does not name %s.%s: %s", table, column, readyTables)
		}
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("read the schema's columns: %d, %v", n, err)
	}
}

// TestAPrivilegeRefusedNamesTheSessionSettingsThatNeedIt: 1227 ("Access
// denied; you need … privilege(s)") is unavailable while the store runs,
// and at start-up a grant to fix, failing at once; both name the settings
// of the store's sessions that need a privilege (the DSN's parameters,
// binlog_format), never the ones that need none.
func TestAPrivilegeRefusedNamesTheSessionSettingsThatNeedIt(t *testing.T) {
	me := &mysql.MySQLError{Number: 1227, Message: "Access denied; you need (at least one of) the SUPER, BINLOG ADMIN privilege(s) for this operation"}
	if err := translate(fmt.Errorf("begin: %w", me)); !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, me) {
		t.Errorf("translate(1227) = %v; want ErrUnavailable, wrapping the error", err)
	}
	for _, c := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"time_zone": "'+00:00'", "binlog_format": "'ROW'", "sql_mode": "x", "innodb_strict_mode": "1"}, "it sets binlog_format, innodb_strict_mode (binlog_format: "},
		{map[string]string{"time_zone": "'+00:00'", "autocommit": "1"}, "a privilege a statement of the store's needs"},
	} {
		cfg := &mysql.Config{Params: c.params}
		for name, err := range map[string]error{"translateAtStart": translateAtStart(me, cfg), "translateUserAtStart": translateUserAtStart(me, cfg)} {
			if errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, me) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s(1227) with %v = %v; want it to say %q, not unavailable, wrapping the error", name, c.params, err, c.want)
			}
		}
	}
}

// TestTranslateKnowsOtherRefusalsOfTheServer: the server refusing writes
// (1792: a read-only transaction; 1036: a table read only, MariaDB's
// innodb_read_only), a schema that is not this release's (1364: a column
// without a default that the store does not write), new sessions refused
// to this host (1129: blocked after too many connection errors; 1130: no
// account for this host, the DSN's user dropped) or to everyone (3032:
// MySQL's offline_mode), and MySQL's numbers for an account locked (3118)
// or a password expired at login (1862), are the database's trouble while
// the store runs, a 503, not a 500. (1129 and 1130 cannot be met on a
// loopback address, nor MySQL's on MariaDB: the private servers of the
// other tests show the rest.)
func TestTranslateKnowsOtherRefusalsOfTheServer(t *testing.T) {
	for _, n := range []uint16{1792, 1036, 1364, 1129, 1130, 3032, 3118, 1862} {
		me := &mysql.MySQLError{Number: n, Message: "Field 'version' doesn't have a default value"}
		if err := translate(fmt.Errorf("append: %w", me)); !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, me) {
			t.Errorf("translate(MySQL error %d) = %v; want ErrUnavailable, wrapping the error", n, err)
		}
	}
	for _, n := range []uint16{1130, 3118, 1862} {
		if err := translateAtStart(&mysql.MySQLError{Number: n}, &mysql.Config{}); errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("translateAtStart(%d) = %v; want an error start-up fails on at once, as 1045", n, err)
		}
		if err := translateUserAtStart(&mysql.MySQLError{Number: n}, &mysql.Config{}); errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("translateUserAtStart(%d) = %v; want an error start-up fails on at once, as 1045", n, err)
		}
	}
}

// TestTranslateKnowsAServerOutOfResources: a server out of memory (1037,
// 1041), of sort memory (1038), of threads for a new session (1135), or of
// room for another transaction (1637) is the database's passing trouble,
// a 503, not a 500. (None can be made to happen on a test's server
// without starving the machine it shares.)
func TestTranslateKnowsAServerOutOfResources(t *testing.T) {
	for _, n := range []uint16{1037, 1038, 1041, 1135, 1637} {
		me := &mysql.MySQLError{Number: n, Message: "Out of memory"}
		if err := translate(fmt.Errorf("read: %w", me)); !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, me) {
			t.Errorf("translate(MySQL error %d) = %v; want ErrUnavailable, wrapping the error", n, err)
		}
	}
}

// TestAPrivilegeDeniedNamesThePrivilegeAndTheTable: a statement refused a
// privilege (1142, 1143) names it and the table, as MariaDB and MySQL say
// them, so that the 503 says what to grant; words not so shaped name
// neither, and the user stays in the server's words alone.
func TestAPrivilegeDeniedNamesThePrivilegeAndTheTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		number           uint16
		message          string
		privilege, table string
	}{
		{errTableAccess, "INSERT command denied to user 'app'@'127.0.0.1' for table `db`.`events`", "INSERT", "events"},
		{errTableAccess, "INSERT command denied to user 'app'@'localhost' for table 'events'", "INSERT", "events"},
		{errColumnAccess, "SELECT command denied to user 'app'@'localhost' for column 'data' in table 'events'", "SELECT", "events"},
		{errTableAccess, "denied, in some other words", "", ""},
	} {
		err := translate(&mysql.MySQLError{Number: tc.number, Message: tc.message})
		var pe *eventstore.PrivilegeError
		if !errors.As(err, &pe) || !errors.Is(err, eventstore.ErrRefused) || !errors.Is(err, eventstore.ErrUnavailable) {
			t.Fatalf("%q: %v; want a PrivilegeError, refused and unavailable", tc.message, err)
		}
		if pe.Privilege != tc.privilege || pe.Table != tc.table {
			t.Errorf("%q: privilege %q, table %q; want %q, %q", tc.message, pe.Privilege, pe.Table, tc.privilege, tc.table)
		}
		if strings.Contains(pe.Denied()+pe.Grant(), "app") {
			t.Errorf("%q: %q, %q; want them without the user", tc.message, pe.Denied(), pe.Grant())
		}
	}
}

package mysqlstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestARefusalOfTheUserOrItsWritesIsMarkedRefused: a privilege revoked,
// the account locked, its password expired or changed, or the server
// read-only were told from any other outage (the database out of
// resources, a session killed) by the error's words only, and the metric
// of 503s for the database counted them all as unavailable. Each is marked
// eventstore.ErrRefused, still unavailable (a 503), its words as they
// were; the others are not. So are the server refusing the service's host
// (1129: blocked after too many connection errors, until an operator
// unblocks it) and any session of its user (3032: MySQL's offline_mode,
// an operator's maintenance switch, as read_only is), which were counted
// as unavailable, as any passing outage (the twenty-second session's
// review).
func TestARefusalOfTheUserOrItsWritesIsMarkedRefused(t *testing.T) {
	t.Parallel()
	for _, n := range []uint16{errTableAccess, errColumnAccess, errAccessDenied, errAccountLocked, errMySQLLocked, errPasswordExpired,
		errExpiredAtLogin, errUserDenied, errDBDenied, errHostDenied, errNoPassword, errReadOnly, errReadOnlyMode, errReadOnlyTx, errTableReadOnly,
		errHostBlocked, errOfflineMode} {
		err := translate(&mysql.MySQLError{Number: n, Message: "refused"})
		if !errors.Is(err, eventstore.ErrRefused) || !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("error %d: %v; want it to wrap ErrRefused and ErrUnavailable", n, err)
		}
		if !strings.HasPrefix(err.Error(), eventstore.ErrUnavailable.Error()+": ") || strings.Contains(err.Error(), eventstore.ErrRefused.Error()) {
			t.Errorf("error %d: %q; want its words as before: %q first, nothing of ErrRefused's", n, err, eventstore.ErrUnavailable.Error())
		}
	}
	for _, n := range []uint16{errTooManyConns, errOutOfMemory, errConnKilled, errLockWaitTimeout, errStatementTime, errInitConnect} {
		if err := translate(&mysql.MySQLError{Number: n, Message: "failed"}); errors.Is(err, eventstore.ErrRefused) {
			t.Errorf("error %d: %v; want it not marked ErrRefused", n, err)
		}
	}
}

// TestAReadReplicaRefusingItsUserIsMarkedRefused: the read replica's own
// words for a user it refuses a new session (translateReplica) were not
// marked, and the metric counted them as unavailable, where the primary's
// same refusal counts as refused.
func TestAReadReplicaRefusingItsUserIsMarkedRefused(t *testing.T) {
	t.Parallel()
	s := &Store{replica: &mysql.Config{Addr: "replica:3306"}}
	for _, n := range []uint16{errUserDenied, errDBDenied} {
		err := s.translateReplica(&mysql.MySQLError{Number: n, Message: "refused"})
		if !errors.Is(err, eventstore.ErrRefused) || !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "read replica at replica:3306") {
			t.Errorf("error %d: %v; want the replica's words, wrapping ErrRefused and ErrUnavailable", n, err)
		}
	}
}

// TestAHostBlockedIsRefusedAtStartAndOfflineModeWaitedOut: at start-up, a
// host the server blocked (1129) stays blocked until an operator unblocks
// it, which no retry within the start-up timeout waits for: an error at
// once (not ErrUnavailable), for the primary and the read replica, saying
// how to unblock it. A server in offline_mode (3032) is under maintenance
// that ends: start-up waits it out (ErrUnavailable). Tested on the
// translation alone for 3032 (MySQL's; MariaDB has no offline_mode); 1129
// is provoked on a real server by TestAHostBlockedByTheServerIsRefusedNotAPassingOutage.
func TestAHostBlockedIsRefusedAtStartAndOfflineModeWaitedOut(t *testing.T) {
	t.Parallel()
	cfg := &mysql.Config{DBName: "tributary", Addr: "db:3306"}
	blocked := &mysql.MySQLError{Number: errHostBlocked, Message: "Host '10.0.0.7' is blocked because of many connection errors"}
	for what, err := range map[string]error{"the primary": translateAtStart(blocked, cfg), "the read replica": translateUserAtStart(blocked, cfg)} {
		if errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "FLUSH HOSTS") || !strings.Contains(err.Error(), "10.0.0.7") {
			t.Errorf("%s blocking the host at start-up: %v; want an error that is not ErrUnavailable, says to FLUSH HOSTS and keeps the server's words", what, err)
		}
	}
	offline := &mysql.MySQLError{Number: errOfflineMode, Message: "The server is currently in offline mode"}
	for what, err := range map[string]error{"the primary": translateAtStart(offline, cfg), "the read replica": translateUserAtStart(offline, cfg)} {
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "offline_mode") {
			t.Errorf("%s in offline_mode at start-up: %v; want an error wrapping ErrUnavailable (waited out), naming offline_mode", what, err)
		}
	}
	s := &Store{replica: &mysql.Config{Addr: "replica:3306"}}
	if err := s.translateReplica(blocked); !errors.Is(err, eventstore.ErrRefused) || !strings.Contains(err.Error(), "read replica at replica:3306") ||
		!strings.Contains(err.Error(), "TRIBUTARY_MYSQL_READ_DSN") {
		t.Errorf("the read replica blocking the host: %v; want a refusal naming the read replica at replica:3306 and TRIBUTARY_MYSQL_READ_DSN", err)
	}
}

// TestAReplicaSessionWithoutTheDatabaseIsNotToldToMigrate: a new session of
// the read replica's, while the store serves, finding no database of the
// read DSN's name (1049) was told the primary's words, "create it and run
// `api migrate`", which migrates the primary, and tables made on a replica
// by hand break its replication. It is the replica's trouble, unavailable,
// named as such (the start's: TestAReplicaWithoutTheDatabaseIsNotToldToMigrate).
func TestAReplicaSessionWithoutTheDatabaseIsNotToldToMigrate(t *testing.T) {
	t.Parallel()
	s := &Store{replica: &mysql.Config{Addr: "replica:3306", DBName: "tributary"}}
	err := s.translateReplica(&mysql.MySQLError{Number: errUnknownDB, Message: "Unknown database 'tributary'"})
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "read replica at replica:3306 has no database tributary") ||
		!strings.Contains(err.Error(), "TRIBUTARY_MYSQL_READ_DSN") || strings.Contains(err.Error(), "api migrate") {
		t.Errorf("a replica session without the database: %v; want an error wrapping ErrUnavailable, saying the replica has no database tributary, "+
			"naming TRIBUTARY_MYSQL_READ_DSN, without `api migrate`", err)
	}
}

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
// were; the others are not.
func TestARefusalOfTheUserOrItsWritesIsMarkedRefused(t *testing.T) {
	t.Parallel()
	for _, n := range []uint16{errTableAccess, errColumnAccess, errAccessDenied, errAccountLocked, errMySQLLocked, errPasswordExpired,
		errExpiredAtLogin, errUserDenied, errDBDenied, errHostDenied, errNoPassword, errReadOnly, errReadOnlyMode, errReadOnlyTx, errTableReadOnly} {
		err := translate(&mysql.MySQLError{Number: n, Message: "refused"})
		if !errors.Is(err, eventstore.ErrRefused) || !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("error %d: %v; want it to wrap ErrRefused and ErrUnavailable", n, err)
		}
		if !strings.HasPrefix(err.Error(), eventstore.ErrUnavailable.Error()+": ") || strings.Contains(err.Error(), eventstore.ErrRefused.Error()) {
			t.Errorf("error %d: %q; want its words as before: %q first, nothing of ErrRefused's", n, err, eventstore.ErrUnavailable.Error())
		}
	}
	for _, n := range []uint16{errTooManyConns, errOutOfMemory, errConnKilled, errLockWaitTimeout, errStatementTime, errInitConnect, errHostBlocked, errOfflineMode} {
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

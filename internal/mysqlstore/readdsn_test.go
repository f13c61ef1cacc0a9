package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReadDSNTypoIsRefusedBeforeAnyConnection: a read DSN that cannot be
// parsed, or names no database or several servers, was found only once the
// primary had answered: with the primary still starting (or its address
// wrong), start-up retried the primary's outage for the whole start-up
// timeout and then reported that, and the typo only on the next start.
// The read DSN is checked before any connection, with an error naming
// TRIBUTARY_MYSQL_READ_DSN that no retry helps (not ErrUnavailable). The
// primary here is on port 1, where no server listens.
func TestAReadDSNTypoIsRefusedBeforeAnyConnection(t *testing.T) {
	t.Parallel()
	const primary = "root@tcp(127.0.0.1:1)/tributary"
	for _, read := range []string{
		"root@tcp(127.0.0.1:3306/tributary",                  // a parenthesis missing
		"root@tcp(127.0.0.1:3306)",                           // no database
		"root@tcp(127.0.0.1:3306)/",                          // no database
		"root@tcp(127.0.0.1:3306,127.0.0.1:3307)/tributary",  // several servers
		"root@tcp(127.0.0.1:3306)/tributary?sql_log_bin=0",   // a parameter refused
		"root@tcp(127.0.0.1:70000)/tributary",                // no such port
		"root@tcp(127.0.0.1:3306)/tributary?parseTime=maybe", // a driver parameter's value wrong
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{ReadDSN: read})
		cancel()
		if err == nil {
			s.Close()
			t.Errorf("Open with the read DSN %q: expected a refusal, it opened", read)
			continue
		}
		if errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "TRIBUTARY_MYSQL_READ_DSN") {
			t.Errorf("Open with the read DSN %q, the primary out of reach: expected a refusal naming TRIBUTARY_MYSQL_READ_DSN, not ErrUnavailable; got %v", read, err)
		}
	}
}

// TestAReadDSNOfAnotherDatabaseOnThePrimarysServerIsRefused: a read DSN
// naming another database on the primary's own server (another Tributary's,
// a copy restored beside it, a name mistyped as another that exists) was
// accepted, with a warning that the replica reports no replication: reads
// and subscribers were served another log than the one appended to, which
// no replica of the primary can be (a replica's copy is on its own
// server). Open refuses it at once (no retry helps), naming
// TRIBUTARY_MYSQL_READ_DSN and the database. On a private server whose
// binary log is on, as a primary with a replica has it (else Open refuses
// the replica for that).
func TestAReadDSNOfAnotherDatabaseOnThePrimarysServerIsRefused(t *testing.T) {
	t.Parallel()
	server := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary, other := server.CreateDatabase(t, "tributary"), server.CreateDatabase(t, "another")
	cfg, err := mysql.ParseDSN(other)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{ReadDSN: other})
	if err == nil {
		s.Close()
		t.Fatalf("Open with another database (%s) of the primary's own server as its read replica: expected a refusal, it opened", cfg.DBName)
	}
	msg := err.Error()
	if errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(msg, "TRIBUTARY_MYSQL_READ_DSN") ||
		!strings.Contains(msg, "primary's own server") || !strings.Contains(msg, cfg.DBName) {
		t.Errorf("Open with another database of the primary's server as its read replica: expected an error that is not ErrUnavailable, "+
			"names TRIBUTARY_MYSQL_READ_DSN and the database %s, and says it is on the primary's own server; got %v", cfg.DBName, err)
	}
}

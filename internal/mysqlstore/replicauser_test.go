package mysqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReplicaThatRefusesItsUserIsNamedNotThePrimary: the read replica's
// user given another password there while the store runs (its new sessions
// refused, 1045). Reads and the readiness probe were a 503 whose error
// said "the database refuses the DSN's user", naming neither
// TRIBUTARY_MYSQL_READ_DSN nor the replica's address: an operator checked
// the primary. The error names both now, and never the password.
func TestAReplicaThatRefusesItsUserIsNamedNotThePrimary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// One server is the primary (its binary log on, which a replica needs)
	// and another, through a proxy of its address, the "replica": a
	// database migrated there, as another process's copy of the log (one
	// on the primary's own server is refused at start).
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	server := mysqltest.NewServer(t, "--server-id=2", "--skip-grant-tables=0")
	migratedCopy(ctx, t, server)
	server.Exec(t, "CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 'reader-pw'", "GRANT SELECT ON copy.* TO 'reader'@'127.0.0.1'")
	s, proxy := readingThroughProxy(ctx, t, primary, server)

	server.Exec(t, "ALTER USER 'reader'@'127.0.0.1' IDENTIFIED BY 'another-pw'")
	killSessionsOf(ctx, t, otherProcessDB(t, server.DSN("")), "reader")
	_, readErr := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	_, lagErr := s.ReplicaLag(ctx)
	for what, err := range map[string]error{"a read": readErr, "the replica's lag": lagErr} {
		switch {
		case !errors.Is(err, eventstore.ErrUnavailable):
			t.Errorf("%s, the replica refusing its user: %v; want an error wrapping ErrUnavailable", what, err)
		case !strings.Contains(err.Error(), "TRIBUTARY_MYSQL_READ_DSN") || !strings.Contains(err.Error(), proxy.Addr()):
			t.Errorf("%s, the replica refusing its user: %q; want it to name TRIBUTARY_MYSQL_READ_DSN and the replica's address %s", what, err, proxy.Addr())
		case strings.Contains(err.Error(), "reader-pw"):
			t.Errorf("%s: the error %q gives the password", what, err)
		}
	}
}

// migratedCopy makes the database copy on server, migrated, as another
// process's copy of the log is there for a store to read from.
func migratedCopy(ctx context.Context, t *testing.T, server *mysqltest.Server) {
	t.Helper()
	copied, err := mysqlstore.Open(ctx, server.CreateDatabase(t, "copy"), mysqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = copied.Migrate(ctx)
	copied.Close()
	if err != nil {
		t.Fatal(err)
	}
}

// readingThroughProxy is a store on primary, migrated and closed at the
// end of the test, whose reads go as the user reader (password reader-pw)
// to the database copy on replica, through the fault proxy it returns.
func readingThroughProxy(ctx context.Context, t *testing.T, primary string, replica *mysqltest.Server) (*mysqlstore.Store, *faultproxy.Proxy) {
	t.Helper()
	proxy := faultproxy.Start(t, fmt.Sprintf("127.0.0.1:%d", replica.Port))
	s, err := mysqlstore.Open(ctx, primary, mysqlstore.Options{ReadDSN: "reader:reader-pw@tcp(" + proxy.Addr() + ")/copy"})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s, proxy
}

package mysqlstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReplicaPrivilegeGrantedBackServesAgainAndIsNamed: the regrant fix
// (a refused session is not reused, nor those opened before it) was the
// primary's only. With a read replica (TRIBUTARY_MYSQL_READ_DSN), the
// reads' sessions opened while SELECT was revoked there kept being refused
// after it was granted back; the refusal said "the DSN's user", sending an
// operator to the primary; and Ping (/readyz), which only pinged the
// replica, passed while every read was refused. Now: the refusal names
// TRIBUTARY_MYSQL_READ_DSN and the replica's address, Ping is refused as
// the reads are, a read after the GRANT is served after at most one more
// refused, and the replica's refusal ends no session of the primary's (the
// writer's appends were never refused).
func TestAReplicaPrivilegeGrantedBackServesAgainAndIsNamed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primaryServer := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary := primaryServer.CreateDatabase(t, "tributary")
	server := mysqltest.NewServer(t, "--server-id=2", "--skip-grant-tables=0")
	migratedCopy(ctx, t, server)
	// SHOW VIEW kept: with no privilege left on the database, the replica
	// refuses the user a session (1044), which is worded already.
	server.Exec(t, "CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 'reader-pw'", "GRANT SELECT, SHOW VIEW ON copy.* TO 'reader'@'127.0.0.1'")
	s, proxy := readingThroughProxy(ctx, t, primary, server)
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); err != nil {
		t.Fatalf("a read before the REVOKE: %v", err)
	}
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 2)
	version := int64(2)
	connections := primaryConnections(ctx, t, primaryServer)

	server.Exec(t, "REVOKE SELECT ON copy.* FROM 'reader'@'127.0.0.1'")
	if err := s.NewReadsSession(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
	var denied *eventstore.PrivilegeError
	switch {
	case !errors.Is(err, eventstore.ErrRefused) || !errors.As(err, &denied):
		t.Fatalf("a read on a new session with SELECT revoked on the replica: %v; want it refused (ErrRefused, a PrivilegeError)", err)
	case !strings.Contains(err.Error(), "TRIBUTARY_MYSQL_READ_DSN") || !strings.Contains(err.Error(), proxy.Addr()) ||
		strings.Contains(err.Error(), "the DSN's user"):
		t.Errorf("a read refused SELECT on the replica: %q; want it to name TRIBUTARY_MYSQL_READ_DSN and the replica's address %s, not the DSN's user", err, proxy.Addr())
	case !strings.Contains(denied.Grant(), "TRIBUTARY_MYSQL_READ_DSN"):
		t.Errorf("what to grant, of a read refused SELECT on the replica: %q; want it to name TRIBUTARY_MYSQL_READ_DSN's user", denied.Grant())
	case strings.Contains(err.Error(), "reader-pw"):
		t.Errorf("a read refused SELECT on the replica: %q gives the password", err)
	}
	before := connections()
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(version)); err != nil {
		t.Fatalf("an append beside the replica's refusal: %v", err)
	}
	version++
	if opened := connections() - before; opened != 0 {
		t.Errorf("an append after the replica refused a read opened %d new sessions on the primary; want none (the replica's refusal says nothing of the primary's grants)", opened)
	}
	if err := s.Ping(ctx); !errors.Is(err, eventstore.ErrRefused) {
		t.Errorf("Ping (/readyz) while every read on the replica is refused SELECT: %v; want it refused too", err)
	}

	server.Exec(t, "GRANT SELECT, SHOW VIEW ON copy.* TO 'reader'@'127.0.0.1'")
	for refused := 0; ; {
		_, err := s.ReadAll(ctx, eventstore.ReadAllOptions{})
		if err == nil {
			break
		}
		if refused++; !errors.Is(err, eventstore.ErrRefused) || refused > 1 {
			t.Fatalf("read %d after SELECT was granted back on the replica, one after the other: %v; want it answered, after at most one more refused", refused, err)
		}
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once SELECT is granted back on the replica: %v", err)
	}
	if _, err := appendOne(ctx, s, stream, eventstore.Exactly(version)); err != nil {
		t.Errorf("an append once SELECT is granted back on the replica: %v", err)
	}
}

// primaryConnections returns what reads how many sessions server has
// opened since it started, on a session of its own held for the test.
func primaryConnections(ctx context.Context, t *testing.T, server *mysqltest.Server) func() int64 {
	t.Helper()
	conn, err := otherProcessDB(t, server.DSN("")).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return func() int64 {
		t.Helper()
		var name string
		var n int64
		if err := conn.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Connections'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestAPrimaryPrivilegeGrantedBackServesTheReplicasLagAgain: with a read
// replica, the statements that read the primary for the replica's lag
// (the heads, the event at the replica's head) and for a stream's version
// there translated the primary's refusals without counting them: sessions
// of the primary's opened while SELECT was revoked kept being refused
// after the GRANT back, for /readyz's lag too. They count them now, as
// every other statement on the primary does.
func TestAPrimaryPrivilegeGrantedBackServesTheReplicasLagAgain(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	primaryServer := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW", "--skip-grant-tables=0")
	root := primaryServer.CreateDatabase(t, "regrantlag")
	primaryServer.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw'", "GRANT ALL ON regrantlag.* TO 'app'@'127.0.0.1'")
	replica := mysqltest.NewServer(t, "--server-id=2")
	migratedCopy(ctx, t, replica)
	s, err := mysqlstore.Open(ctx, strings.Replace(root, "root@", "app:app-pw@", 1), mysqlstore.Options{ReadDSN: replica.DSN("copy")})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplicaLag(ctx); err != nil {
		t.Fatalf("the replica's lag before the REVOKE: %v", err)
	}
	// A database's privileges reach a session as it opens: the primary's
	// sessions are ended, and the next ones lack SELECT.
	primaryServer.Exec(t, "REVOKE SELECT ON regrantlag.* FROM 'app'@'127.0.0.1'")
	killSessionsOf(ctx, t, otherProcessDB(t, primaryServer.DSN("")), "app")
	if _, err := s.ReplicaLag(ctx); !errors.Is(err, eventstore.ErrRefused) {
		t.Fatalf("the replica's lag with SELECT revoked on the primary: %v; want it refused (ErrRefused)", err)
	}
	primaryServer.Exec(t, "GRANT SELECT ON regrantlag.* TO 'app'@'127.0.0.1'")
	for refused := 0; ; {
		_, err := s.ReplicaLag(ctx)
		if err == nil {
			break
		}
		if refused++; !errors.Is(err, eventstore.ErrRefused) || refused > 1 {
			t.Fatalf("the replica's lag %d after SELECT was granted back on the primary, one after the other: %v; want it read, after at most one more refused", refused, err)
		}
	}
}

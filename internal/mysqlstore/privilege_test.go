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

// TestAUserWhoMayOnlyReadIsRefusedAtStartNamingWhatIsDenied: a DSN's user
// with only SELECT on the database opened and migrated (the schema was
// there): the service started and listened, and every append and every
// read that waits for the durability fence failed with 1142, a 500
// "internal error". Start-up now refuses at once, naming the statements
// denied and the tables, without wrapping ErrUnavailable (which start-up
// would wait out to its timeout). On a private server with grant tables.
func TestAUserWhoMayOnlyReadIsRefusedAtStartNamingWhatIsDenied(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "selectonly")
	openCounted(t, root) // the schema, migrated by a user who may
	server.Exec(t, "CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 'reader-pw'", "GRANT SELECT ON selectonly.* TO 'reader'@'127.0.0.1'")
	dsn := strings.Replace(root, "root@", "reader:reader-pw@", 1)
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
	if err == nil {
		defer s.Close()
		err = s.Migrate(ctx)
	}
	if err == nil {
		t.Fatal("a store whose user may only SELECT opened and migrated; want start-up refused, naming what is denied")
	}
	refusedAtStart(t, err, "start-up with a user who may only SELECT", "reader-pw", "INSERT", "UPDATE", "events", "log_head", "streams", "grant")
}

// refusedAtStart checks err, start-up's (what), for a refusal that fails
// it at once (not ErrUnavailable, which start-up waits out), naming each of
// names and not quoting the DSN's password.
func refusedAtStart(t *testing.T, err error, what, password string, names ...string) {
	t.Helper()
	if err == nil || errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("%s: %v; want an error start-up fails on at once, not ErrUnavailable", what, err)
	}
	for _, want := range names {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %q; want it to name %q", what, err, want)
		}
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("%s: %q gives the DSN's password", what, err)
	}
}

// TestAnAppendDeniedAPrivilegeWhileRunningIsUnavailable: privileges
// revoked from the store's user while it runs: an append was a 500 with
// the server's 1142. It is a 503 (ErrUnavailable), which says what is
// denied, not a bug of the service's.
func TestAnAppendDeniedAPrivilegeWhileRunningIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "revoked")
	openCounted(t, root)
	// Table privileges, which a REVOKE takes from running sessions too
	// (a database's take effect at a session's next USE).
	server.Exec(t, "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw'")
	for _, table := range []string{"events", "streams", "log_head", "durability_fence", "writer_lease", "schema_migrations"} {
		server.Exec(t, "GRANT SELECT, INSERT, UPDATE ON revoked."+table+" TO 'app'@'127.0.0.1'")
	}
	s, _ := openCounted(t, strings.Replace(root, "root@", "app:app-pw@", 1))
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	server.Exec(t, "REVOKE INSERT, UPDATE ON revoked.events FROM 'app'@'127.0.0.1'")
	_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Fatalf("an append whose INSERT is denied: %v; want an error wrapping ErrUnavailable, not of unknown outcome", err)
	}
	for _, want := range []string{"denied", "INSERT", "events"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("an append whose INSERT is denied: %q; want it to name %q", err, want)
		}
	}
	if !s.Fences() {
		return
	}
	// A read that waits for a fence the user may no more write.
	server.Exec(t, "REVOKE INSERT, UPDATE ON revoked.durability_fence FROM 'app'@'127.0.0.1'")
	other, _ := openCounted(t, root)
	appendVersions(ctx, t, other, uuid.New(), 1) // a commit newer than any fence of s's
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{}); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "durability_fence") {
		t.Errorf("a read whose fence is denied: %v; want an error wrapping ErrUnavailable naming durability_fence", err)
	}
}

// TestAUserWhosePasswordChangesWhileRunningIsUnavailable: the DSN's user
// given another password, or dropped, while the store runs: its new
// sessions are refused (1045), and an append that needed one was a 500
// with the server's words. It is a 503, as a revoked privilege's is; a
// start with a wrong password still fails at once, not waited out as a
// database out of reach.
func TestAUserWhosePasswordChangesWhileRunningIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, root, dsn := appUser(t, "repassword")
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)

	server.Exec(t, "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY 'another-pw'")
	rootDB := otherProcessDB(t, root)
	killSessionsOf(ctx, t, rootDB, "app")
	_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("an append whose new session is refused the DSN's password: %v; want an error wrapping ErrUnavailable, not of unknown outcome", err)
	}
	if err != nil && strings.Contains(err.Error(), "app-pw") {
		t.Errorf("an append's error %q gives the password", err)
	}

	_, err = mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
	if err == nil || errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("open with a wrong password: %v; want an error start-up fails on at once, not ErrUnavailable", err)
	}
}

// TestASessionSettingDeniedItsPrivilegeIsNamed: every session of the store
// sets the DSN's parameters, and binlog_format=ROW where the server's
// binary log would log its writes as statements (rowBinlog), and setting a
// session's binlog_format needs a privilege (BINLOG ADMIN or SUPER on
// MariaDB). Revoked while the store runs, every new session was refused
// with 1227 ("Access denied; you need … privilege(s)"), and an append that
// needed one was a 500 "internal error". It is a 503 (ErrUnavailable)
// naming the privilege and what needs it; and a start with a user who
// lacks it fails at once (not waited out as an outage), naming them too.
func TestASessionSettingDeniedItsPrivilegeIsNamed(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, root, dsn := appUser(t, "sessionset", "GRANT BINLOG ADMIN ON *.* TO 'app'@'127.0.0.1'")
	dsn += "?binlog_format=ROW"
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)

	server.Exec(t, "REVOKE BINLOG ADMIN ON *.* FROM 'app'@'127.0.0.1'")
	killSessionsOf(ctx, t, otherProcessDB(t, root), "app")
	_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) {
		t.Errorf("an append whose new session's settings are denied a privilege: %v; want an error wrapping ErrUnavailable, not of unknown outcome", err)
	}
	for _, want := range []string{"BINLOG ADMIN", "binlog_format", "grant"} {
		if err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("an append whose new session's settings are denied a privilege: %q; want it to name %q", err, want)
		}
	}

	_, err = mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
	refusedAtStart(t, err, "open with a user denied a privilege its sessions' settings need", "app-pw", "BINLOG ADMIN", "binlog_format", "grant")
}

// TestAnAccountLockedOrExpiredWhileRunningIsUnavailable: the DSN's user's
// account locked (4151), its password expired (1820: every statement
// refused until it is changed; a password lifetime ends so), or made to
// authenticate another way (1698) while the store runs: appends and reads
// were a 500 "internal error" with the server's words. Each is a 503
// (ErrUnavailable), saying what to do; a start-up meeting one fails at
// once, not waited out as an outage. On a private server with grant tables.
func TestAnAccountLockedOrExpiredWhileRunningIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, root, dsn := appUser(t, "account")
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	rootDB := otherProcessDB(t, root)
	for _, c := range []struct {
		what, alter, want string
	}{
		{"locked", "ACCOUNT LOCK", "locked"},
		{"whose password expired", "PASSWORD EXPIRE", "expired"},
		{"made to authenticate by its socket", "IDENTIFIED VIA unix_socket", "refuses the DSN's user"},
	} {
		server.Exec(t, "ALTER USER 'app'@'127.0.0.1' "+c.alter)
		killSessionsOf(ctx, t, rootDB, "app")
		_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
		if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("an append, the DSN's user's account %s: %v; want an error wrapping ErrUnavailable, not of unknown outcome, saying %q", c.what, err, c.want)
		}
		if _, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("a read, the DSN's user's account %s: %v; want an error wrapping ErrUnavailable", c.what, err)
		}
		if _, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{}); err == nil || errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("open, the DSN's user's account %s: %v; want an error start-up fails on at once, not ErrUnavailable", c.what, err)
		}
		server.Exec(t, "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw' ACCOUNT UNLOCK")
	}
}

// TestASessionAbortedByAFailingInitConnectIsUnavailable: the server's
// init_connect failing for the DSN's user (a statement an operator set
// that fails, for users without SUPER) aborts every new session with 1184
// ("Aborted connection … (init_connect command failed)"): appends, reads
// and Ping (/readyz) were a 500 "internal error". Each is a 503 naming it.
func TestASessionAbortedByAFailingInitConnectIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, root, dsn := appUser(t, "initconnect")
	s, _ := openCounted(t, dsn)
	stream := uuid.New()
	appendVersions(ctx, t, s, stream, 1)
	server.Exec(t, "SET GLOBAL init_connect = 'SELECT no_such_function()'")
	killSessionsOf(ctx, t, otherProcessDB(t, root), "app")
	_, err := appendOne(ctx, s, stream, eventstore.Exactly(1))
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "init_connect") {
		t.Errorf("an append whose new session init_connect aborts: %v; want an error wrapping ErrUnavailable, not of unknown outcome, naming init_connect", err)
	}
	if _, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{}); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("a read whose new session init_connect aborts: %v; want an error wrapping ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Ping (/readyz) whose new session init_connect aborts: %v; want an error wrapping ErrUnavailable", err)
	}
}

// appUser starts a private server with its grant tables, makes the
// database name on it and a user app (password app-pw) with every
// privilege on that database and the grants given, and returns the
// server, root's DSN and app's.
func appUser(t *testing.T, name string, grants ...string) (server *mysqltest.Server, root, app string) {
	t.Helper()
	server = mysqltest.NewServer(t, "--skip-grant-tables=0")
	root = server.CreateDatabase(t, name)
	server.Exec(t, append([]string{"CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw'", "GRANT ALL ON " + name + ".* TO 'app'@'127.0.0.1'"}, grants...)...)
	return server, root, strings.Replace(root, "root@", "app:app-pw@", 1)
}

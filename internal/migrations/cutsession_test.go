package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// newestStatement is the newest MySQL migration's statement, as goose
// sends it.
const newestStatement = "CREATE INDEX events_stream_type_event_type_position ON events (stream_type, event_type, position);"

// TestEndingACutMigrationsStatementLeavesEveryOtherSessionAlone: a start
// whose migration is cut ends the migration's statement on the server with
// KILL QUERY of the connection id goose's session had. It killed whatever
// session had that id on whatever server the pool's new connection reached:
// a Galera node or a proxy's other backend gives ids of its own, and a
// session there with the same number (another instance's append or
// migration, an operator's ALTER) had its statement interrupted. It now
// kills only on the server that gave the id, a session of the migration's
// user and database running the cut migration's statement; any other is
// left alone, and the log says to KILL QUERY it by hand if it is the
// migration's. The sessions here wait for a metadata lock until the test
// lets it go: one killed fails, one left alone completes.
func TestEndingACutMigrationsStatementLeavesEveryOtherSessionAlone(t *testing.T) {
	t.Parallel()
	latest := int64(migrations.Latest("mysql"))
	private := mysqltest.NewServer(t)
	// migrated makes a database named name ("": any) on server (nil: the
	// shared one), at the schema before the newest migration, and returns
	// its DSN.
	migrated := func(t *testing.T, server *mysqltest.Server, name string) string {
		t.Helper()
		var dsn string
		switch {
		case server == nil:
			dsn = mysqltest.NewDatabase(t)
		case name == "":
			name = fmt.Sprintf("cutsession_%d", time.Now().UnixNano())
			fallthrough
		default:
			dsn = server.CreateDatabase(t, name)
		}
		if err := migrations.UpTo(t.Context(), openMySQL(t, dsn), "mysql", latest-1); err != nil {
			t.Fatalf("migrate %s to %d: %v", dsn, latest-1, err)
		}
		return dsn
	}
	dbName := func(t *testing.T, dsn string) string {
		t.Helper()
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.DBName
	}
	for _, tc := range []struct {
		name string
		// dsns gives the DSN of the migration's session, the one of the
		// session whose id endStatement is given, and the one of the pool
		// it ends the statement through.
		dsns      func(t *testing.T) (migration, other, through string)
		statement string
		killed    bool
	}{
		{
			name: "the migration's own statement is ended",
			dsns: func(t *testing.T) (string, string, string) {
				dsn := migrated(t, nil, "")
				return dsn, dsn, dsn
			},
			statement: newestStatement,
			killed:    true,
		},
		{
			name: "another statement of the migration's user and database",
			dsns: func(t *testing.T) (string, string, string) {
				dsn := migrated(t, nil, "")
				return dsn, dsn, dsn
			},
			// Its text holds what may be a secret (another application's
			// data, a token): the log names the session, never its text.
			statement: "ALTER TABLE events ADD COLUMN note INT NULL COMMENT 'token=s3cret-of-another-app'",
		},
		{
			name: "the migration's statement in another database",
			dsns: func(t *testing.T) (string, string, string) {
				dsn := migrated(t, nil, "")
				return dsn, migrated(t, nil, ""), dsn
			},
			statement: newestStatement,
		},
		{
			name: "the migration's statement in its database on another server",
			dsns: func(t *testing.T) (string, string, string) {
				dsn := migrated(t, nil, "")
				there := migrated(t, private, dbName(t, dsn))
				return dsn, there, there
			},
			statement: newestStatement,
		},
		{
			name: "the migration's statement in its database by another user",
			dsns: func(t *testing.T) (string, string, string) {
				dsn := migrated(t, private, "")
				cfg, err := mysql.ParseDSN(dsn)
				if err != nil {
					t.Fatal(err)
				}
				cfg.User = "another"
				return dsn, cfg.FormatDSN(), dsn
			},
			statement: newestStatement,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			migrationDSN, otherDSN, throughDSN := tc.dsns(t)
			migrationConn, err := openMySQL(t, migrationDSN).Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { migrationConn.Close() })
			otherDB := openMySQL(t, otherDSN)
			release := mysqltest.HoldMetadataLock(t, otherDB, "events")
			t.Cleanup(release)
			id, done := waitingStatement(t, otherDB, tc.statement)

			var logs testlog.Buffer
			if err := migrations.EndCutStatement(ctx, migrationConn, id, openMySQL(t, throughDSN), latest, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
				t.Fatalf("record the migration's session: %v", err)
			}
			release()
			err = <-done
			if killed := err != nil; killed != tc.killed {
				t.Fatalf("the statement %q of connection %d, ended as a cut migration's: killed %t (%v), want killed %t; log:\n%s",
					tc.statement, id, killed, err, tc.killed, logs.String())
			}
			if !tc.killed && !strings.Contains(logs.String(), "KILL QUERY") {
				t.Errorf("a session left alone: the log does not say to KILL QUERY the migration's connection by hand:\n%s", logs.String())
			}
			// Another session's statement may hold a secret: the log says at
			// most its first keyword (hostile review, F8).
			if _, text, _ := strings.Cut(tc.statement, " "); strings.Contains(logs.String(), strings.TrimSuffix(text, ";")[:12]) {
				t.Errorf("the log quotes the text of connection %d's statement %q beyond its first keyword:\n%s", id, tc.statement, logs.String())
			}
		})
	}
}

// waitingStatement runs statement on a session of db of its own, and
// returns, once the server shows it waiting for a metadata lock, the
// session's connection id and what receives the statement's error.
func waitingStatement(t *testing.T, db *sql.DB, statement string) (id int64, done <-chan error) {
	t.Helper()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.QueryRowContext(t.Context(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(context.Background(), statement)
		ended <- err
	}()
	for {
		var waiting bool
		err := db.QueryRowContext(t.Context(),
			"SELECT EXISTS (SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ? AND STATE LIKE '%metadata lock%')", id).Scan(&waiting)
		if err != nil {
			t.Fatalf("read PROCESSLIST: %v", err)
		}
		if waiting {
			return id, ended
		}
		select {
		case err := <-ended:
			t.Fatalf("%q ended (%v) before the server showed it waiting for a metadata lock", statement, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestAnotherSessionsStatementIsNamedByItsFirstKeywordOnly: what the log
// says of another session's statement (the lock holder's, the session that
// now has a cut migration's connection id) is the keyword it begins with,
// never more of its text, which may hold a secret.
func TestAnotherSessionsStatementIsNamedByItsFirstKeywordOnly(t *testing.T) {
	t.Parallel()
	for statement, want := range map[string]string{
		"INSERT INTO tokens VALUES ('s3cret')":  "INSERT",
		"  alter table events add note int":     "ALTER",
		"SELECT(1)":                             "SELECT",
		"/* s3cret */ SELECT 1":                 "",
		"(SELECT 's3cret')":                     "",
		"CHANGE MASTER TO MASTER_PASSWORD='pw'": "CHANGE",
		"":                                      "",
	} {
		if got := migrations.FirstWord(statement); got != want {
			t.Errorf("the first word of %q: %q, want %q", statement, got, want)
		}
	}
}

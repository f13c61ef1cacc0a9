package migrations_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAStartCutWhileTheServerDoesNotAnswerReturnsItsCutError: a migration
// cut by the start-up timeout (or a signal) while the server had stopped
// answering (SIGSTOP, a hung host, a network that drops everything) went
// on to release the migration lock with no deadline of its own, so the
// start waited in RELEASE_LOCK until the server answered again: the
// timeout's error never came, and the process hung until killed (hostile
// review, F5). The release has a bound of its own now: the start returns
// its CutError while the server still does not answer, and once it
// answers again the next start takes the lock and completes the schema.
func TestAStartCutWhileTheServerDoesNotAnswerReturnsItsCutError(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = proxy.Target()
	// direct reaches the same database around the proxy: the test's own
	// sessions go on answering while the start's stall.
	db, direct := openMySQL(t, dsn), openMySQL(t, cfg.FormatDSN())
	latest, release := beforeTheNewestMigration(t, direct)
	start, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := &causeContext{Context: start, cause: context.DeadlineExceeded}
	done := make(chan error, 1)
	go func() { done <- migrations.ApplyMySQL(ended, db, slog.New(slog.DiscardHandler)) }()
	waitForStatement(t, direct, done)
	proxy.Stall()
	defer proxy.Resume()
	cancel()
	select {
	case err := <-done:
		var cut *migrations.CutError
		if !errors.As(err, &cut) || cut.Version != latest || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a start cut while the server did not answer: %v; want a CutError of migration %d wrapping the deadline", err, latest)
		}
	case <-time.After(2 * time.Minute): // against a hang only
		proxy.Resume()
		t.Fatalf("a start cut while the server did not answer has not returned 2 minutes after its context ended; "+
			"once the server answers again it returns %v", <-done)
	}
	proxy.Resume()
	release()
	nextStartCompletes(t, db, direct, latest) // once the server answers
}

// TestAMigrationLockWhoseReleaseIsRefusedIsFreedWithItsSession: a release
// of the migration lock that fails on a session that is still alive (here
// the account's MAX_QUERIES_PER_HOUR, error 1226, refuses it) left the
// session to the pool with the lock still held, so every other instance's
// start waited on it until the pool retired the session (hostile review).
// The session of a failed release is closed instead, which frees the lock
// on the server: another session takes it. On a private server, with its
// grant tables: the account spends its hour's queries while the start's
// migration waits on a metadata lock, then the migration goes on and its
// recording and the release are refused.
func TestAMigrationLockWhoseReleaseIsRefusedIsFreedWithItsSession(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const hourly = 1000
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := openMySQL(t, server.CreateDatabase(t, "refused"))
	server.Exec(t, fmt.Sprintf("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pw' WITH MAX_QUERIES_PER_HOUR %d", hourly),
		"GRANT ALL ON refused.* TO 'app'@'127.0.0.1'", "FLUSH USER_RESOURCES")
	cfg, err := mysql.ParseDSN(server.DSN("refused"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = "app", "app-pw"
	app := openMySQL(t, cfg.FormatDSN())
	cfg.MultiStatements = true
	spender := openMySQL(t, cfg.FormatDSN())
	_, release := beforeTheNewestMigration(t, root)
	done := make(chan error, 1)
	go func() { done <- migrations.ApplyMySQL(ctx, app, slog.New(slog.DiscardHandler)) }()
	waitForStatement(t, root, done)
	spender.ExecContext(ctx, strings.Repeat("DO 1;", hourly)+"DO 1") //nolint:errcheck // it ends at the limit
	var me *mysql.MySQLError
	if _, err := spender.ExecContext(ctx, "DO 1"); !errors.As(err, &me) || me.Number != 1226 {
		t.Fatalf("a statement after the hour's queries were spent: %v; want error 1226", err)
	}
	release()
	if err := <-done; !errors.As(err, &me) || me.Number != 1226 {
		t.Fatalf("a start whose account's queries ran out: %v; want error 1226", err)
	}
	// Another instance's start: it waits (60 s at most, against a hang only)
	// for the lock, which the server frees when the session closes.
	var got sql.NullInt64
	if err := root.QueryRowContext(ctx, "SELECT GET_LOCK("+migrations.LockName+", 60)").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Valid || got.Int64 != 1 {
		var holder sql.NullInt64
		root.QueryRowContext(ctx, "SELECT IS_USED_LOCK("+migrations.LockName+")").Scan(&holder) //nolint:errcheck // for the message only
		t.Fatalf("another session could not take the migration lock after a start whose release was refused returned: GET_LOCK %v; "+
			"held by connection %v, want the lock freed with the start's session", got, holder)
	}
}

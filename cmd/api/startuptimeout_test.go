package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/tcptest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestADatabaseThatAcceptsButNeverAnswersIsNamedAtTheStartupTimeout: a
// database that takes the TCP connection and never answers (a mariadbd
// stopped with SIGSTOP, whose kernel still accepts; a host hung) failed
// start-up at the timeout with "open MySQL store: connect to MySQL at …:
// context deadline exceeded", where one that refuses the connection says
// "database not reachable within 4s (TRIBUTARY_STARTUP_TIMEOUT)". It says
// now that the database did not answer within the timeout, naming it.
//
// The call is given a parent context far longer than the timeout, as a
// safety net: an openMySQL that waited past the start-up timeout would end
// only with it, and then say the database was not reachable, never that it
// did not answer within the timeout, which is said only while the parent
// runs on.
func TestADatabaseThatAcceptsButNeverAnswersIsNamedAtTheStartupTimeout(t *testing.T) {
	t.Parallel()
	addr := tcptest.Silent(t) // takes the connection, never answers
	cfg := config.Defaults()
	cfg.MySQLDSN = "app:secret-pw@tcp(" + addr + ")/tributary"
	cfg.StartupTimeout = 2 * time.Second
	parent, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := openMySQL(parent, cfg, slog.New(slog.DiscardHandler), metrics.New("test"), false)
	if err == nil {
		t.Fatal("openMySQL on a database that never answers: no error")
	}
	if parent.Err() != nil {
		t.Fatalf("openMySQL on a database that never answers ended only with its caller's context (60 s), not at the start-up timeout (%s): %v", cfg.StartupTimeout, err)
	}
	for _, want := range []string{"did not answer within 2s", config.Var("StartupTimeout"), addr} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("openMySQL on a database that never answers: %q; want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("openMySQL's error %q gives the password", err)
	}
}

// TestAMigrationLockHeldPastTheStartupTimeoutIsNamed: with the migration
// lock held by another session, `api` and `api migrate` failed after the
// start-up timeout with "take migration lock: context deadline exceeded",
// naming neither the holder nor the setting. The error names both now.
func TestAMigrationLockHeldPastTheStartupTimeoutIsNamed(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	id := mysqltest.HoldMigrationLock(t, dsn)
	cfg := config.Defaults()
	cfg.MySQLDSN = dsn
	cfg.StartupTimeout = 3 * time.Second
	_, err := openMySQL(context.Background(), cfg, slog.New(slog.DiscardHandler), metrics.New("test"), false)
	if err == nil {
		t.Fatal("openMySQL with the migration lock held: no error")
	}
	for _, want := range []string{"migration lock was not free within 3s", config.Var("StartupTimeout"), "connection " + strconv.FormatInt(id, 10)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("openMySQL with the migration lock held by connection %d: %q; want it to say %q", id, err, want)
		}
	}
}

// TestAUserWhoMayNotWriteFailsStartUpAtOnce: a DSN's user with only SELECT
// started the service, which listened and answered every append with a
// 500. Start-up fails now, at once (not retried to the start-up timeout, as
// a database out of reach is), naming what is denied. At once is told by
// what start-up does, not by the clock: it logs no retry, and it ends while
// its caller's context, shorter than the start-up timeout, runs on.
func TestAUserWhoMayNotWriteFailsStartUpAtOnce(t *testing.T) {
	t.Parallel()
	server := mysqltest.NewServer(t, "--skip-grant-tables=0")
	root := server.CreateDatabase(t, "reader")
	cfg := config.Defaults()
	cfg.MySQLDSN = root
	cfg.StartupTimeout = 2 * time.Minute
	store, err := openMySQL(context.Background(), cfg, slog.New(slog.DiscardHandler), metrics.New("test"), false)
	if err != nil {
		t.Fatalf("open as root: %v", err)
	}
	store.Close()
	server.Exec(t, "CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 'reader-pw'", "GRANT SELECT ON reader.* TO 'reader'@'127.0.0.1'")
	cfg.MySQLDSN = strings.Replace(root, "root@", "reader:reader-pw@", 1)
	var logs testlog.Buffer
	parent, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net, shorter than the start-up timeout
	defer cancel()
	store, err = openMySQL(parent, cfg, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New("test"), false)
	if err == nil {
		store.Close()
		t.Fatal("openMySQL as a user who may only SELECT: it opened; want start-up refused")
	}
	if parent.Err() != nil || strings.Contains(logs.String(), "retrying") {
		t.Errorf("openMySQL as a user who may only SELECT: %v, after retrying (the log: %q); want it to fail at once, not retried to the start-up timeout (%s)",
			err, logs.String(), cfg.StartupTimeout)
	}
	if !strings.Contains(err.Error(), "may not write") || strings.Contains(err.Error(), "reader-pw") {
		t.Errorf("openMySQL as a user who may only SELECT: %q; want it to say what the user may not write, without the password", err)
	}
}

// TestAMigrationCutByTheStartupTimeoutSaysWhichSettingToRaise: a migration
// still running at the start-up timeout (a CREATE INDEX on a large events
// table; here one waiting for a metadata lock another session holds) was
// said as "database did not answer within 30s … (a server stopped, hung or
// overloaded?)", which sent the operator looking for a hung server. It
// names the migration and the setting to raise now (operator tester).
func TestAMigrationCutByTheStartupTimeoutSaysWhichSettingToRaise(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := mysqltest.NewDatabase(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	latest := mysqltest.SchemaBeforeLastMigration(t, db)
	release := mysqltest.HoldMetadataLock(t, db, "events")
	cfg := config.Defaults()
	cfg.MySQLDSN = dsn
	cfg.StartupTimeout = 2 * time.Second
	_, err = openMySQL(ctx, cfg, slog.New(slog.DiscardHandler), metrics.New("test"), false)
	release()
	if err == nil {
		t.Fatal("openMySQL with its last migration held past the start-up timeout: no error")
	}
	for _, want := range []string{fmt.Sprintf("migration %d", latest), "still running when " + config.Var("StartupTimeout") + " (2s) ran out", "raise it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("openMySQL with its migration held: %q; want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hung or overloaded") {
		t.Errorf("openMySQL with its migration held: %q; it blames the database", err)
	}
}

// TestAStartStoppedWhileItsMigrationWaitsOnAStalledDatabaseReturns: a
// SIGTERM during a start whose migration waits on the server, when the
// server has just stopped answering (SIGSTOP, a hung host), hung the start
// in the migration lock's release until the server answered again
// (hostile review, F5): the orchestrator saw a hung start, not a failed
// one. openMySQL returns its error while the database still does not
// answer, the store closed.
func TestAStartStoppedWhileItsMigrationWaitsOnAStalledDatabaseReturns(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	direct := mysqltest.OpenDirect(t, dsn, proxy)
	latest := mysqltest.SchemaBeforeLastMigration(t, direct)
	release := mysqltest.HoldMetadataLock(t, direct, "events")
	defer release()
	cfg := config.Defaults()
	cfg.MySQLDSN = dsn
	cfg.StartupTimeout = 10 * time.Minute // the signal ends this start
	parent, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := openMySQL(parent, cfg, slog.New(slog.DiscardHandler), metrics.New("test"), false)
		done <- err
	}()
	// The migration's statement waits on the server for the metadata lock.
	awaitMigrationStatement(t, direct, done)
	proxy.Stall()
	defer proxy.Resume()
	stop() // SIGTERM
	select {
	case err := <-done:
		var cut *migrations.CutError
		if !errors.As(err, &cut) || cut.Version != latest {
			t.Fatalf("a start stopped while its migration waited on a stalled database: %v; want the CutError of migration %d", err, latest)
		}
	case <-time.After(2 * time.Minute): // against a hang only
		proxy.Resume()
		t.Fatalf("a start stopped while its migration waited on a stalled database has not returned 2 minutes after its signal; "+
			"once the database answers again it returns %v", <-done)
	}
}

// TestAMigrationCutByTheStartupTimeoutOnAStalledDatabaseSaysItDoesNotAnswer:
// a migration cut by the start-up timeout said to raise
// TRIBUTARY_STARTUP_TIMEOUT (a migration of a large table takes longer)
// even where the database had stopped answering under it (SIGSTOP, a hung
// host, a network dropping everything): a longer timeout would not have
// helped. Where a ping at the cut gets no answer, the error says the
// database does not answer, and gives no such advice.
func TestAMigrationCutByTheStartupTimeoutOnAStalledDatabaseSaysItDoesNotAnswer(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	direct := mysqltest.OpenDirect(t, dsn, proxy)
	latest := mysqltest.SchemaBeforeLastMigration(t, direct)
	release := mysqltest.HoldMetadataLock(t, direct, "events")
	defer release()
	cfg := config.Defaults()
	cfg.MySQLDSN = dsn
	// Long enough for the statement to be seen, and the database stalled,
	// before it ends (the loop below fails the test if it ended first).
	cfg.StartupTimeout = 8 * time.Second
	done := make(chan error, 1)
	go func() {
		_, err := openMySQL(ctx, cfg, slog.New(slog.DiscardHandler), metrics.New("test"), false)
		done <- err
	}()
	awaitMigrationStatement(t, direct, done)
	proxy.Stall()
	defer proxy.Resume()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute): // against a hang only
		proxy.Resume()
		t.Fatalf("openMySQL on a database stalled under its migration has not returned 2 minutes on; once it answers again it returns %v", <-done)
	}
	if err == nil {
		t.Fatal("openMySQL with its migration cut on a stalled database: no error")
	}
	for _, want := range []string{fmt.Sprintf("migration %d", latest), "does not answer", "raising it would not help"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("openMySQL with its migration cut on a stalled database: %q; want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "raise it for this start") {
		t.Errorf("openMySQL with its migration cut on a stalled database: %q; it advises raising the start-up timeout", err)
	}
}

// awaitMigrationStatement returns once the last migration's CREATE INDEX
// is seen running on db's server, and fails the test if openMySQL, which
// sends its result on done, returned first.
func awaitMigrationStatement(t *testing.T, db *sql.DB, done <-chan error) {
	t.Helper()
	for waiting := false; !waiting; {
		select {
		case err := <-done:
			t.Fatalf("openMySQL returned (%v) before its migration's statement was seen on the server", err)
		case <-time.After(10 * time.Millisecond):
		}
		if err := db.QueryRowContext(t.Context(), "SELECT EXISTS (SELECT 1 FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE 'CREATE INDEX events_stream_type_event_type_position%')").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
}

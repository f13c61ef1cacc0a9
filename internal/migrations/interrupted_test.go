package migrations_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// schemaOf is every table's SHOW CREATE TABLE in db, the version table's
// left out, with AUTO_INCREMENT counters taken away: what two databases
// migrated to one schema have alike.
func schemaOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	ctx := t.Context()
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> ? ORDER BY table_name", migrations.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	var b strings.Builder
	for _, n := range names {
		var name, create string
		if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE `"+n+"`").Scan(&name, &create); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(create, "\n") {
			if i := strings.Index(l, " AUTO_INCREMENT="); i >= 0 {
				l = l[:i]
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// recorded is the versions db's version table records as applied, in order.
func recorded(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT version_id FROM "+migrations.VersionTable+" WHERE is_applied ORDER BY version_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

// beforeTheNewestMigration brings db's database to the schema before the
// newest migration and holds a metadata lock on its events table, through
// db, so that the newest migration's statement waits on the server until
// release (called at the end of the test too). It returns the newest
// version.
func beforeTheNewestMigration(t *testing.T, db *sql.DB) (latest int64, release func()) {
	t.Helper()
	latest = int64(migrations.Latest("mysql"))
	if err := migrations.UpTo(t.Context(), db, "mysql", latest-1); err != nil {
		t.Fatalf("migrate to %d: %v", latest-1, err)
	}
	release = mysqltest.HoldMetadataLock(t, db, "events")
	t.Cleanup(release)
	return latest, release
}

// nextStartCompletes runs a start through db and checks, through watch,
// that it recorded every version up to latest.
func nextStartCompletes(t *testing.T, db, watch *sql.DB, latest int64) {
	t.Helper()
	if err := migrations.ApplyMySQL(t.Context(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the next start: %v", err)
	}
	if got := recorded(t, watch); len(got) != int(latest)+1 {
		t.Fatalf("versions recorded after the next start: %v; want 0 to %d", got, latest)
	}
}

// TestAMigrationCutAfterItsStatementIsCompletedByTheNextStart: MySQL DDL
// commits by itself, so goose runs a migration's statement and then records
// its version; a start stopped between the two (the start-up timeout, a
// SIGTERM, a kill, a lost connection: an operator tester's rolling upgrade
// cut during migration 13's CREATE INDEX) left a schema on which every
// later start failed for good ("Duplicate key name …", "Table … already
// exists") until someone mended it by hand. For each version, a database
// whose migration ran but was not recorded is now brought up to date by the
// next start, to the schema a clean migration gives, each version recorded
// once.
func TestAMigrationCutAfterItsStatementIsCompletedByTheNextStart(t *testing.T) {
	t.Parallel()
	reference := openMySQL(t, mysqltest.NewDatabase(t))
	if err := migrations.UpTo(t.Context(), reference, "mysql", int64(migrations.Latest("mysql"))); err != nil {
		t.Fatal(err)
	}
	want := schemaOf(t, reference)
	for v := 1; v <= migrations.Latest("mysql"); v++ {
		t.Run(fmt.Sprintf("version %d", v), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := openMySQL(t, mysqltest.NewDatabase(t))
			if err := migrations.UpTo(ctx, db, "mysql", int64(v)); err != nil {
				t.Fatal(err)
			}
			// The statement ran; its record was never written.
			if _, err := db.ExecContext(ctx, "DELETE FROM "+migrations.VersionTable+" WHERE version_id = ?", v); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
				t.Fatalf("the next start, after migration %d ran unrecorded: %v", v, err)
			}
			if got := schemaOf(t, db); got != want {
				t.Fatalf("the schema after completing migration %d:\n%s\nwant a clean migration's:\n%s", v, got, want)
			}
			if got := recorded(t, db); len(got) != migrations.Latest("mysql")+1 || got[v] != int64(v) {
				t.Fatalf("versions recorded: %v, want 0 to %d, each once", got, migrations.Latest("mysql"))
			}
			if !strings.Contains(logs.String(), "had run but was not recorded") {
				t.Fatalf("the log does not say that migration %d was found applied and recorded now:\n%s", v, logs.String())
			}
		})
	}
}

// TestAVersionTableWithoutItsFirstRowIsMended: goose creates its version
// table and then writes its version-0 row; on MySQL the CREATE commits by
// itself, and a start stopped between the two failed every later start
// with "missing zero version migration".
func TestAVersionTableWithoutItsFirstRowIsMended(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openMySQL(t, mysqltest.NewDatabase(t))
	if err := migrations.UpTo(ctx, db, "mysql", 1); err != nil {
		t.Fatal(err)
	}
	// The version table made, nothing else: no row, no table of migration 1.
	for _, q := range []string{"DROP TABLE streams", "DELETE FROM " + migrations.VersionTable} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate after a start cut between the version table and its first row: %v", err)
	}
	if got := recorded(t, db); len(got) != migrations.Latest("mysql")+1 {
		t.Fatalf("versions recorded: %v", got)
	}
}

// TestTablesRestoredWithoutTheVersionTableAreMigrated: an operator who
// restores the store's tables (streams, events, log_head) from a dump into
// an empty database, as the README once said, had a database on which every
// start failed with "Table 'streams' already exists". Their events stay,
// and the tables the dump left out are made.
func TestTablesRestoredWithoutTheVersionTableAreMigrated(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	from, to := openMySQL(t, mysqltest.NewDatabase(t)), openMySQL(t, mysqltest.NewDatabase(t))
	if err := migrations.ApplyMySQL(ctx, from, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	want := schemaOf(t, from)
	var fromDB string
	if err := from.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&fromDB); err != nil {
		t.Fatal(err)
	}
	if _, err := from.ExecContext(ctx, "UPDATE log_head SET position = 1"); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"streams", "events", "log_head"} {
		for _, q := range []string{"CREATE TABLE " + table + " LIKE `" + fromDB + "`." + table, "INSERT INTO " + table + " SELECT * FROM `" + fromDB + "`." + table} {
			if _, err := to.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	if err := migrations.ApplyMySQL(ctx, to, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("migrate restored tables: %v", err)
	}
	if got := schemaOf(t, to); got != want {
		t.Fatalf("the schema after migrating restored tables:\n%s\nwant:\n%s", got, want)
	}
	var head int64
	if err := to.QueryRowContext(ctx, "SELECT position FROM log_head").Scan(&head); err != nil || head != 1 {
		t.Fatalf("the restored log_head: %d, %v; want 1 (kept, not seeded again)", head, err)
	}
}

// TestAMigrationCutByTheStartUpTimeoutSaysSoAndTheNextStartCompletesIt: a
// migration still running when the start's context ends (a CREATE INDEX on a
// large table, here one waiting for a metadata lock another session holds)
// is a CutError naming it, for cmd/api to say which setting to raise; the
// next start completes it, whatever the server did with the cut statement.
func TestAMigrationCutByTheStartUpTimeoutSaysSoAndTheNextStartCompletesIt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openMySQL(t, mysqltest.NewDatabase(t))
	latest, release := beforeTheNewestMigration(t, db)
	start, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	err := migrations.ApplyMySQL(start, db, slog.New(slog.DiscardHandler))
	var cut *migrations.CutError
	if !errors.As(err, &cut) || cut.Version != latest || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a migration under way when the start's time ran out: %v; want a CutError of migration %d wrapping the deadline", err, latest)
	}
	release()
	nextStartCompletes(t, db, db, latest)
}

// TestAnotherApplicationsTablesAreNotTakenForTributarys: a DSN naming the
// wrong database, one whose tables happen to be called streams and events,
// must fail the start naming the table, as migration 1's "already exists"
// did, not be recorded as Tributary's schema and altered (hostile review).
func TestAnotherApplicationsTablesAreNotTakenForTributarys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openMySQL(t, mysqltest.NewDatabase(t))
	for _, q := range []string{
		"CREATE TABLE streams (id INT PRIMARY KEY, title TEXT)",
		"CREATE TABLE events (id INT PRIMARY KEY, stream_type VARCHAR(10), event_type VARCHAR(10), position INT)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "table named streams that is not Tributary's") {
		t.Fatalf("migrate a database holding another application's streams and events: %v; want an error naming streams as not Tributary's", err)
	}
	// Refused before the version table is made (see
	// TestAnotherApplicationsDatabaseIsRefusedBeforeAnythingIsWritten).
	var made bool
	if err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?)",
		migrations.VersionTable).Scan(&made); err != nil || made {
		t.Fatalf("the version table made in another application's database: %t, %v; want none", made, err)
	}
}

// TestAMigrationCutByASignalOrTheTimeoutLeavesNoStatementOnTheServer: the
// driver does not cancel a statement on the server when its context ends;
// it only drops the connection. A migration cut by a SIGTERM during
// start-up, or by the start-up timeout, left its CREATE INDEX waiting or
// running on the server after the start returned, to run beside the next
// start's work. The start now ends the statement on the server before it
// returns: PROCESSLIST shows none of it once ApplyMySQL has returned.
func TestAMigrationCutByASignalOrTheTimeoutLeavesNoStatementOnTheServer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cause error
	}{
		{"a signal", context.Canceled},
		{"the start-up timeout", context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dsn := mysqltest.NewDatabase(t)
			db, watch := openMySQL(t, dsn), openMySQL(t, dsn)
			latest, _ := beforeTheNewestMigration(t, db)
			start, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			// The context ends as the one given to ApplyMySQL would for
			// this cause, once the migration's statement waits on the server.
			ended := &causeContext{Context: start, cause: tc.cause}
			var logs testlog.Buffer
			done := make(chan error, 1)
			go func() { done <- migrations.ApplyMySQL(ended, db, slog.New(slog.NewTextHandler(&logs, nil))) }()
			waitForStatement(t, watch, done)
			cancel(tc.cause)
			err := <-done
			var cut *migrations.CutError
			if !errors.As(err, &cut) || cut.Version != latest || !errors.Is(err, tc.cause) {
				t.Fatalf("a migration cut by %s: %v; want a CutError of migration %d wrapping %v", tc.name, err, latest, tc.cause)
			}
			if left := migrationStatements(t, watch); len(left) != 0 {
				t.Fatalf("after a migration cut by %s returned, the server still runs its statement: %v", tc.name, left)
			}
			if !strings.Contains(logs.String(), "ended the cut migration's statement on the server") {
				t.Errorf("a migration cut by %s: the log does not say its statement was ended on the server:\n%s", tc.name, logs.String())
			}
		})
	}
}

// causeContext is a context that, once its parent ends, says it ended for
// cause: context.DeadlineExceeded stands for the start-up timeout, ended
// when the test says rather than at a time.
type causeContext struct {
	context.Context
	cause error
}

func (c *causeContext) Err() error {
	if c.Context.Err() == nil {
		return nil
	}
	return c.cause
}

// migrationStatement is how PROCESSLIST's INFO begins for the newest
// migration's statement.
const migrationStatement = "CREATE INDEX events_stream_type_event_type_position%"

// migrationStatements returns the ids of the sessions of watch's database
// that run the newest migration's statement, with their state.
func migrationStatements(t *testing.T, watch *sql.DB) map[int64]string {
	t.Helper()
	rows, err := watch.QueryContext(t.Context(),
		"SELECT ID, IFNULL(STATE, '') FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE ?", migrationStatement)
	if err != nil {
		t.Fatalf("read PROCESSLIST: %v", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var state string
		if err := rows.Scan(&id, &state); err != nil {
			t.Fatalf("read PROCESSLIST: %v", err)
		}
		out[id] = state
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read PROCESSLIST: %v", err)
	}
	return out
}

// waitForStatement waits until the newest migration's statement is under
// way on the server, as PROCESSLIST shows it.
func waitForStatement(t *testing.T, watch *sql.DB, done <-chan error) {
	t.Helper()
	for len(migrationStatements(t, watch)) == 0 {
		select {
		case err := <-done:
			t.Fatalf("the migration returned (%v) before its statement was seen on the server", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

package migrations_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// foreignTables are databases of other applications (a DSN, or a data
// directory, naming the wrong one): each holds a table of a name the
// migrations make, with the columns another application gives it, and
// the words its refusal must hold. One also holds Tributary's schema up to
// its first migration (upTo), as a release before the one that makes the
// foreign table's name left it.
var foreignTables = []struct {
	name       string
	upTo       int64
	statements []string
	want       []string
}{
	{"another application's events", 0, []string{"CREATE TABLE events (id INT PRIMARY KEY, payload TEXT)"},
		[]string{"table named events that is not Tributary's"}},
	{"another application's events, beside Tributary's first table", 1, []string{"CREATE TABLE events (id INT PRIMARY KEY, payload TEXT)"},
		[]string{"table named events that is not Tributary's"}},
	{"another application's log_head", 0, []string{"CREATE TABLE log_head (id INT PRIMARY KEY, note TEXT)"},
		[]string{"table named log_head that is not Tributary's"}},
	{"another application's events and log_head", 0, []string{
		"CREATE TABLE events (id INT PRIMARY KEY, payload TEXT)",
		"CREATE TABLE log_head (id INT PRIMARY KEY, position INT)",
	}, []string{"table named events that is not Tributary's"}},
	{"another application's streams", 0, []string{"CREATE TABLE streams (id INT PRIMARY KEY, title TEXT)"},
		[]string{"table named streams that is not Tributary's"}},
	{"Rails' version table", 0, []string{
		"CREATE TABLE schema_migrations (version VARCHAR(255) PRIMARY KEY)",
		"INSERT INTO schema_migrations (version) VALUES ('20240101000000')",
	}, []string{"table named schema_migrations that is not Tributary's", "another migration tool"}},
	{"golang-migrate's version table", 0, []string{
		"CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL)",
		"INSERT INTO schema_migrations (version, dirty) VALUES (3, FALSE)",
	}, []string{"table named schema_migrations that is not Tributary's", "another migration tool"}},
}

// TestAnotherApplicationsDatabaseIsRefusedBeforeAnythingIsWritten: a
// start on another application's database (a DSN naming the wrong one, a
// data directory holding another program's tributary.db) was refused only
// when a migration met the foreign table, after the version table and the
// tables of the migrations before it had been created in it; on the
// embedded store with SQLite's raw "table events already exists", and a
// foreign version table (Rails', golang-migrate's) gave the driver's
// "Unknown column 'version_id'". Every table the migrations make is now
// looked at before the first is: the start is refused naming the table,
// and the database holds what it held.
func TestAnotherApplicationsDatabaseIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range foreignTables {
		t.Run("mysql/"+tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dsn := mysqltest.NewDatabase(t)
			raw := openMySQL(t, dsn)
			upTo(t, raw, "mysql", tc.upTo)
			exec(t, raw, tc.statements...)
			before := mysqlTables(t, raw)
			s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{})
			if err == nil {
				err = s.Migrate(ctx)
				s.Close()
			}
			checkRefused(t, err, tc.want, before, mysqlTables(t, raw))
		})
		t.Run("sqlite/"+tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dir := t.TempDir()
			raw, err := sql.Open("sqlite", filepath.Join(dir, sqlitestore.FileName))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			upTo(t, raw, "sqlite", tc.upTo)
			exec(t, raw, tc.statements...)
			before := sqliteTables(t, raw)
			s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
			if err == nil {
				err = s.Migrate(ctx)
				s.Close()
			}
			checkRefused(t, err, tc.want, before, sqliteTables(t, raw))
		})
	}
}

// upTo brings db up to version of dialect's schema, if not 0.
func upTo(t *testing.T, db *sql.DB, dialect string, version int64) {
	t.Helper()
	if version == 0 {
		return
	}
	if err := migrations.UpTo(t.Context(), db, dialect, version); err != nil {
		t.Fatalf("migrate up to %d: %v", version, err)
	}
}

func exec(t *testing.T, db *sql.DB, statements ...string) {
	t.Helper()
	for _, q := range statements {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// checkRefused fails t unless err holds each of want and the database's
// tables are as they were.
func checkRefused(t *testing.T, err error, want, before, after []string) {
	t.Helper()
	for _, w := range append(want, "no table was made in it") {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("start on another application's database: %v; want an error holding %q", err, w)
		}
	}
	if !slices.Equal(before, after) {
		t.Errorf("tables of the database refused: %v, before the start %v; want nothing made", after, before)
	}
}

// mysqlTables is the names of db's tables, in order.
func mysqlTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return names(t, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name")
}

// sqliteTables is the names of db's tables and indexes, in order.
func sqliteTables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	return names(t, db, "SELECT type || ' ' || name FROM sqlite_master ORDER BY type, name")
}

func names(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.QueryContext(context.WithoutCancel(t.Context()), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ns []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ns
}

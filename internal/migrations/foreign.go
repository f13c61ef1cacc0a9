package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// ourTables are, by dialect, the tables the migrations make, in the order
// they make them, the version table first, each with the migration that
// makes it and the columns it has had in every schema since: a table of
// one of these names without one of them is another application's.
var ourTables = map[string][]ourTable{
	"mysql": {
		{VersionTable, 0, []string{"version_id", "is_applied"}},
		{"streams", 1, []string{"stream_id", "stream_type", "created_at"}},
		{"events", 2, []string{"position", "event_id", "stream_id", "stream_version", "stream_type", "event_type", "data", "metadata", "recorded_at"}},
		{"log_head", 3, []string{"id", "position"}},
		{"durability_fence", 5, []string{"id", "counter"}},
		{"writer_lease", 9, []string{"id", "node", "epoch"}},
	},
	"sqlite": {
		{VersionTable, 0, []string{"version_id", "is_applied"}},
		{"streams", 1, []string{"stream_id", "stream_type", "created_at"}},
		{"events", 3, []string{"position", "event_id", "stream_id", "stream_version", "stream_type", "event_type", "data", "metadata", "recorded_at"}},
		{"log_head", 5, []string{"id", "position"}},
	},
}

// ourTable is a table the migrations make, the migration that makes it (0:
// the version table, goose's), and the columns it has had in every schema.
type ourTable struct {
	name    string
	version int64
	columns []string
}

// columnsOf is the columns of dialect's table name (ourTables).
func columnsOf(dialect, name string) []string {
	for _, t := range ourTables[dialect] {
		if t.name == name {
			return t.columns
		}
	}
	return nil
}

// columnQueries read, by dialect, each column of the database's tables
// among those named by the query's n arguments (lower-case), as (table,
// column), both lower-cased.
var columnQueries = map[string]func(n int) string{
	"mysql": func(n int) string {
		return "SELECT LOWER(table_name), LOWER(column_name) FROM information_schema.columns " +
			"WHERE table_schema = DATABASE() AND LOWER(table_name) IN (?" + strings.Repeat(", ?", n-1) + ")"
	},
	// SQLite's names are case-blind: a table Events is in the way of events.
	"sqlite": func(n int) string {
		return "SELECT LOWER(m.name), LOWER(c.name) FROM sqlite_master m, pragma_table_info(m.name) c " +
			"WHERE m.type = 'table' AND LOWER(m.name) IN (?" + strings.Repeat(", ?", n-1) + ")"
	},
}

// refuseForeign returns an error naming the first table, in the order the
// migrations make them, of those they are yet to make (and the version
// table) that db has without one of its columns: another application's (a
// DSN, or a data directory, naming the wrong database). It only reads: a
// start refused so has made no table in the database, where it used to
// have made the version table and the tables of the migrations before the
// one that met the foreign table (or, with a foreign version table, failed
// on the driver's "Unknown column 'version_id'"). A table whose migration
// is recorded is Tributary's, whatever it lacks now (a column dropped while
// the service was stopped): the checks after the migrations name that.
func refuseForeign(ctx context.Context, db *sql.DB, dialect string) error {
	tables := ourTables[dialect]
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t.name
	}
	rows, err := db.QueryContext(ctx, columnQueries[dialect](len(tables)), args...)
	if err != nil {
		return fmt.Errorf("look for tables of the names the migrations use: %w", err)
	}
	defer rows.Close()
	has := map[string]map[string]bool{}
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			return fmt.Errorf("look for tables of the names the migrations use: %w", err)
		}
		if has[table] == nil {
			has[table] = map[string]bool{}
		}
		has[table][column] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("look for tables of the names the migrations use: %w", err)
	}
	v := has[VersionTable]
	recorded, err := recordedVersions(ctx, db, v["version_id"] && v["is_applied"])
	if err != nil {
		return err
	}
	for _, t := range tables {
		columns, ok := has[t.name]
		if !ok || t.version > 0 && recorded[t.version] {
			continue
		}
		for _, c := range t.columns {
			if !columns[c] {
				return foreignTable(dialect, t.name, c, true)
			}
		}
	}
	return nil
}

// RefuseForeignSQLite returns an error naming a table of the embedded
// store's names in db that is another program's (see refuseForeign): for
// the store's start-up checks, which read its tables before Migrate and
// would take such a table's lacks for Tributary's own (a table dropped).
// It only reads.
func RefuseForeignSQLite(ctx context.Context, db *sql.DB) error {
	return refuseForeign(ctx, db, "sqlite")
}

// foreignTable is the error of a table found of a name the migrations use
// that lacks column, one the table has had in every schema; before (true:
// refuseForeign's) says that no table was made.
func foreignTable(dialect, table, column string, before bool) error {
	where, check := "the database", "does the DSN name the right database?"
	if dialect == "sqlite" {
		where, check = "the database file", "is it another program's file? give the embedded store a data directory of its own"
	}
	made := ""
	if before {
		made = ", and no table was made in it"
	}
	if table == VersionTable {
		// The name is goose's default, and Rails' and golang-migrate's:
		// Tributary's is fixed, so its database is its own.
		return fmt.Errorf("%s has a table named %s that is not Tributary's (it has no column %s)%s: it is another migration tool's "+
			"version table (Rails and golang-migrate use this name), and Tributary records its schema in a table of this name, "+
			"which is not configurable, so it needs a database of its own: %s", where, table, column, made, check)
	}
	return fmt.Errorf("%s has a table named %s that is not Tributary's (it has no column %s)%s: %s", where, table, column, made, check)
}

// recordedVersions is the versions the version table records as applied;
// none unless there is a version table with goose's columns (ours: one
// without them is refused by refuseForeign).
func recordedVersions(ctx context.Context, db *sql.DB, ours bool) (map[int64]bool, error) {
	recorded := map[int64]bool{}
	if !ours {
		return recorded, nil
	}
	rows, err := db.QueryContext(ctx, "SELECT version_id FROM "+VersionTable+" WHERE is_applied")
	if err != nil {
		return nil, fmt.Errorf("read the versions recorded in %s: %w", VersionTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read the versions recorded in %s: %w", VersionTable, err)
		}
		recorded[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the versions recorded in %s: %w", VersionTable, err)
	}
	return recorded, nil
}

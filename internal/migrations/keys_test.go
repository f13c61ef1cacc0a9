package migrations_test

import (
	"database/sql"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// keysOf is every key of db's tables but the version table's, one line
// each: table, name, unique or not, columns in order.
func keysOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "SELECT table_name, index_name, non_unique, column_name FROM information_schema.statistics "+
		"WHERE table_schema = DATABASE() AND table_name <> ? ORDER BY table_name, index_name, seq_in_index", migrations.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	last := ""
	for rows.Next() {
		var table, name, column string
		var nonUnique bool
		if err := rows.Scan(&table, &name, &nonUnique, &column); err != nil {
			t.Fatal(err)
		}
		if key := table + " " + name; key == last {
			lines[len(lines)-1] += ", " + column
			continue
		}
		last = table + " " + name
		lines = append(lines, fmt.Sprintf("%s %s unique=%t: %s", table, name, !nonUnique, column))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestTablesRestoredWithoutTheirKeysFailTheStartNamingTheStatementThatAddsThem:
// tables restored without their keys (CREATE TABLE … SELECT, a loader that
// adds the keys after the rows) were recorded as migrated from their
// columns alone, and the store ran without events' PRIMARY KEY(position),
// its UNIQUE keys on (stream_id, stream_version) and event_id, and
// log_head's and streams' primary keys: the last guard against duplicated
// positions, versions and event ids gone, and every FOR UPDATE a scan
// (hostile review). Each start now fails naming the first such table, its
// keys, and the ALTER TABLE that adds them, and records nothing of it; run,
// that statement lets the next start go on, to a clean migration's keys.
func TestTablesRestoredWithoutTheirKeysFailTheStartNamingTheStatementThatAddsThem(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	from, to := openMySQL(t, mysqltest.NewDatabase(t)), openMySQL(t, mysqltest.NewDatabase(t))
	if err := migrations.ApplyMySQL(ctx, from, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	var fromDB string
	if err := from.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&fromDB); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"streams", "events", "log_head"} {
		q := "CREATE TABLE " + table + " SELECT * FROM `" + fromDB + "`." + table
		if _, err := to.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i, c := range []struct {
		table, key, mend string
		recorded         []int64
	}{
		{"streams", "PRIMARY KEY (stream_id)", "ALTER TABLE streams ADD PRIMARY KEY (stream_id), ADD KEY streams_type_id (stream_type, stream_id)", []int64{0}},
		{"events", "UNIQUE KEY events_event_id (event_id)", "ALTER TABLE events ADD PRIMARY KEY (position), " +
			"ADD UNIQUE KEY events_stream_version (stream_id, stream_version), ADD UNIQUE KEY events_event_id (event_id), " +
			"ADD KEY events_stream_type_position (stream_type, position), ADD KEY events_event_type_position (event_type, position)", []int64{0, 1}},
		{"log_head", "PRIMARY KEY (id)", "ALTER TABLE log_head ADD PRIMARY KEY (id)", []int64{0, 1, 2}},
	} {
		err := migrations.ApplyMySQL(ctx, to, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "table named "+c.table+" ") || !strings.Contains(err.Error(), c.key) ||
			!strings.Contains(err.Error(), c.mend) {
			t.Fatalf("start %d on tables restored without their keys: %v; want it refused, naming the table %s, its %s, and the statement that adds its keys, %s",
				i+1, err, c.table, c.key, c.mend)
		}
		if got := recorded(t, to); !slices.Equal(got, c.recorded) {
			t.Fatalf("versions recorded with %s's keys missing: %v; want %v", c.table, got, c.recorded)
		}
		if _, err := to.ExecContext(ctx, c.mend); err != nil {
			t.Fatalf("the statement the start named: %s: %v", c.mend, err)
		}
	}
	if err := migrations.ApplyMySQL(ctx, to, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the start after the keys were added as it said: %v", err)
	}
	if got, want := keysOf(t, to), keysOf(t, from); got != want {
		t.Fatalf("the keys after the restored tables were mended and migrated:\n%s\nwant a clean migration's:\n%s", got, want)
	}
}

// TestEveryKeyTheMySQLMigrationsMakeIsLookedFor: the keys the looks and
// the start's check require are written down beside the migrations; a
// migration that makes a key they do not list would go unchecked.
func TestEveryKeyTheMySQLMigrationsMakeIsLookedFor(t *testing.T) {
	t.Parallel()
	db := openMySQL(t, mysqltest.NewDatabase(t))
	if err := migrations.ApplyMySQL(t.Context(), db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	made := strings.Split(keysOf(t, db), "\n")
	slices.Sort(made)
	if listed := migrations.KeysMySQL(); !slices.Equal(listed, made) {
		t.Errorf("the keys the looks know:\n%s\nwant those a clean migration makes:\n%s", strings.Join(listed, "\n"), strings.Join(made, "\n"))
	}
}

// TestAKeyOfMigration13sNameOnOtherColumnsIsNotRecordedAsIt: migration
// 13's look took any key named events_stream_type_event_type_position for
// the one it makes, and recorded it: a key of that name on other columns
// (made by hand, or restored from a dump of an experiment) left the reads
// filtered on both types without their key. The start now fails saying
// what the key is and the statement that makes it right.
func TestAKeyOfMigration13sNameOnOtherColumnsIsNotRecordedAsIt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reference, db := openMySQL(t, mysqltest.NewDatabase(t)), openMySQL(t, mysqltest.NewDatabase(t))
	if err := migrations.ApplyMySQL(ctx, reference, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	latest := int64(migrations.Latest("mysql"))
	if err := migrations.UpTo(ctx, db, "mysql", latest-1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "CREATE INDEX events_stream_type_event_type_position ON events (stream_type)"); err != nil {
		t.Fatal(err)
	}
	mend := "ALTER TABLE events DROP KEY events_stream_type_event_type_position, " +
		"ADD KEY events_stream_type_event_type_position (stream_type, event_type, position)"
	err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "has KEY events_stream_type_event_type_position (stream_type),") || !strings.Contains(err.Error(), mend) {
		t.Fatalf("a start on events with a key of migration %d's name on other columns: %v; want it refused, saying what the key is and the statement that mends it, %s",
			latest, err, mend)
	}
	if got := recorded(t, db); len(got) != int(latest) {
		t.Fatalf("versions recorded: %v; want 0 to %d (not %d)", got, latest-1, latest)
	}
	if _, err := db.ExecContext(ctx, mend); err != nil {
		t.Fatalf("the statement the start named: %s: %v", mend, err)
	}
	if err := migrations.ApplyMySQL(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the start after the key was made as it said: %v", err)
	}
	if got, want := keysOf(t, db), keysOf(t, reference); got != want {
		t.Fatalf("the keys after the start:\n%s\nwant a clean migration's:\n%s", got, want)
	}
}

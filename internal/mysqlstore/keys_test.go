package mysqlstore_test

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestAKeyDroppedWhileStoppedRefusesTheStartNamingTheStatementThatAddsIt:
// a key of the store's dropped while the service was stopped (or tables
// restored, schema_migrations with them, without their keys) was not seen
// at the next start: every migration recorded, the store ran without it,
// a unique key's guard against duplicated positions, stream versions or
// event ids gone, or its reads and locks scanning. The embedded store
// refuses such a start naming the index and the statement that makes it
// again; so does this one now, naming each table's keys and the ALTER
// TABLE that makes them as the migrations do, after which it starts. A key
// there but IGNORED (MariaDB 10.6+; MySQL 8's INVISIBLE), which the
// optimizer does not use and a statement that names it fails on, passed
// as there: the start refuses it, naming the ALTER INDEX that mends it.
func TestAKeyDroppedWhileStoppedRefusesTheStartNamingTheStatementThatAddsIt(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		drops []string
		mends []string
	}{
		{"a unique key", []string{"ALTER TABLE events DROP KEY events_event_id"},
			[]string{"ALTER TABLE events ADD UNIQUE KEY events_event_id (event_id)"}},
		{"a primary key", []string{"ALTER TABLE log_head DROP PRIMARY KEY"},
			[]string{"ALTER TABLE log_head ADD PRIMARY KEY (id)"}},
		{"migration 13's key", []string{"DROP INDEX events_stream_type_event_type_position ON events"},
			[]string{"ALTER TABLE events ADD KEY events_stream_type_event_type_position (stream_type, event_type, position)"}},
		{"a key made again on its columns in another order", []string{"ALTER TABLE events DROP KEY events_stream_version, ADD UNIQUE KEY events_stream_version (stream_version, stream_id)"},
			[]string{"ALTER TABLE events DROP KEY events_stream_version, ADD UNIQUE KEY events_stream_version (stream_id, stream_version)"}},
		{"a unique key made again not unique", []string{"ALTER TABLE events DROP KEY events_event_id, ADD KEY events_event_id (event_id)"},
			[]string{"ALTER TABLE events DROP KEY events_event_id, ADD UNIQUE KEY events_event_id (event_id)"}},
		// MariaDB's IGNORED (MySQL 8's INVISIBLE) key is there, and no
		// statement uses it: a forced one fails as a dropped one does.
		{"an ignored unique key", []string{"ALTER TABLE events ALTER INDEX events_event_id IGNORED"},
			[]string{"ALTER TABLE events ALTER INDEX events_event_id NOT IGNORED"}},
		{"two ignored keys", []string{"ALTER TABLE events ALTER INDEX events_event_type_position IGNORED, ALTER INDEX events_stream_type_position IGNORED"},
			[]string{"ALTER TABLE events ALTER INDEX events_stream_type_position NOT IGNORED, ALTER INDEX events_event_type_position NOT IGNORED"}},
		{"keys of two tables", []string{"ALTER TABLE streams DROP PRIMARY KEY, DROP KEY streams_type_id", "ALTER TABLE durability_fence DROP PRIMARY KEY"},
			[]string{"ALTER TABLE durability_fence ADD PRIMARY KEY (id)", "ALTER TABLE streams ADD PRIMARY KEY (stream_id), ADD KEY streams_type_id (stream_type, stream_id)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, db, s, err := migrateAfterChangedWhileStopped(t, c.drops)
			for _, mend := range c.mends {
				if err == nil || !strings.Contains(err.Error(), mend) || !strings.Contains(err.Error(), migrations.VersionTable+" records every migration") {
					t.Fatalf("the start (Migrate) after %s while stopped: %v; want it refused, saying every migration is recorded, and naming the statement that mends it, %s",
						c.drops, err, mend)
				}
			}
			if len(c.mends) > 1 && strings.Index(err.Error(), c.mends[0]) > strings.Index(err.Error(), c.mends[1]) {
				t.Errorf("the start's refusal names %s after %s; want the tables in order of name: %v", c.mends[0], c.mends[1], err)
			}
			for _, mend := range c.mends {
				if _, err := db.ExecContext(ctx, mend); err != nil {
					t.Fatalf("the statement the start named: %s: %v", mend, err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("the start after the statements it named were run: %v", err)
			}
		})
	}
}

// migrateAfterChangedWhileStopped is a store on a database of its own,
// with an event appended, closed as a stopped service is; changes run on
// the database as an operator would; the store opened again, closed at the
// end of the test, with its Migrate's error (the start's). db is the
// operator's session, ctx the test's.
func migrateAfterChangedWhileStopped(t *testing.T, changes []string) (context.Context, *sql.DB, *mysqlstore.Store, error) {
	t.Helper()
	ctx, dsn := guardedTest(t)
	s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
	if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := otherProcessDB(t, dsn)
	for _, q := range changes {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open after %s while stopped: %v; want the open to pass and Migrate to refuse", changes, err)
	}
	t.Cleanup(func() { s.Close() })
	return ctx, db, s, s.Migrate(ctx)
}

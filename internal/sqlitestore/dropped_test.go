package sqlitestore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/migrations"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// dropWhileStopped stops s, which has a few events, and runs q on its file
// as an operator's sqlite3 shell would with the server stopped.
func dropWhileStopped(t *testing.T, s *sqlitestore.Store, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if err := s.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestAColumnDroppedWhileStoppedRefusesTheStart: a column of the store's
// dropped from the file while the server was stopped (sqlite3 tributary.db
// 'ALTER TABLE events DROP COLUMN checksum') was not seen at the next
// start: Migrate found every step recorded, logged "schema is up to date",
// and recorded the columns as it found them, so /readyz answered 200 while
// every read and append answered 500 ("no such column") and the live feed
// logged it for ever. Dropped while the server ran, the same file gave
// 503s naming the column; MySQL refuses such a start. So does the
// embedded store now, naming what is missing and the remedy: no retry nor
// `api migrate` makes it again. A table dropped while stopped (which gave
// 503s, the store started but never ready) is refused the same way, as is
// an index the store's reads name (INDEXED BY), whose refusal names the
// CREATE INDEX that makes it again.
func TestAColumnDroppedWhileStoppedRefusesTheStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ drop, missing string }{
		{"ALTER TABLE events DROP COLUMN checksum", "events.checksum"},
		{"ALTER TABLE log_head DROP COLUMN commit_id", "log_head.commit_id"},
		{"ALTER TABLE streams DROP COLUMN created_at", "streams.created_at"},
		{"DROP TABLE streams", "the table streams"},
		{"DROP TABLE log_head", "the table log_head"},
		{"DROP INDEX events_stream_type_position", "the index events_stream_type_position"},
	} {
		t.Run(c.missing, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			s := openMigrated(t, dir)
			appendEvents(t, s, uuid.New(), 2, 10)
			dropWhileStopped(t, s, c.drop)

			s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
			if err != nil {
				t.Fatalf("open after %s while stopped: %v; want the open to pass and Migrate to refuse", c.drop, err)
			}
			t.Cleanup(func() { s.Close() })
			err = s.Migrate(ctx)
			if err == nil || !strings.Contains(err.Error(), c.missing) || !strings.Contains(err.Error(), "dropped") ||
				!strings.Contains(err.Error(), "restore") || !strings.Contains(err.Error(), "backup") {
				t.Errorf("the start (Migrate) after %s while stopped: %v; want it refused, naming %s, asking whether it was dropped "+
					"and saying to restore the file from a backup", c.drop, err, c.missing)
			}
			if strings.HasPrefix(c.drop, "DROP INDEX") && (err == nil || !strings.Contains(err.Error(), typePositionIndex)) {
				t.Errorf("the start (Migrate) after %s while stopped: %v; want it to name the statement that makes it again, %s", c.drop, err, typePositionIndex)
			}
		})
	}
}

// TestVerifySaysItCannotCheckEventsWithoutTheirChecksumColumn: `api verify`
// on a file whose events.checksum was dropped (migration 12 recorded as
// applied) answered "every page and every event is as written", though
// there was no checksum to check an event against; so it did on a file of
// a schema from before the checksums (not migrated since). It now fails,
// saying it cannot check the events and why: the column dropped (restore
// the file), the schema older (start the server once, or `api migrate`,
// then verify again). (A file without its events table is refused by Open.)
func TestVerifySaysItCannotCheckEventsWithoutTheirChecksumColumn(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		drop  []string
		wants []string
	}{
		{"dropped", []string{"ALTER TABLE events DROP COLUMN checksum"}, []string{"cannot check", "events.checksum", "dropped", "backup"}},
		{"older schema", []string{"ALTER TABLE events DROP COLUMN checksum", "DELETE FROM " + migrations.VersionTable + " WHERE version_id = 12"},
			[]string{"cannot check", "checksum", "older", "api migrate"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			s := openMigrated(t, dir)
			appendEvents(t, s, uuid.New(), 5, 10)
			dropWhileStopped(t, s, c.drop...)

			s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			v, err := s.Verify(ctx)
			if err == nil {
				t.Fatalf("Verify of a file (%s): checked %d events, none damaged, no error; want it to say it cannot check them", c.name, v.Events)
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Verify of a file (%s): %v; want it to say %q", c.name, err, w)
				}
			}
		})
	}
}

// typePositionIndex is the migrations' events_stream_type_position.
const typePositionIndex = "CREATE INDEX events_stream_type_position ON events (stream_type, position)"

// TestAnIndexDroppedWhileRunningIsUnavailableNotAnInternalError: the reads
// of the log filtered on stream or event types name their index (INDEXED
// BY); with it dropped from an sqlite3 shell while the server ran, each
// failed with SQLite's "no such index", a 500 "internal error", and
// /readyz said ready. Such a read, and Ping, are unavailable (503), naming
// the index and the CREATE INDEX that makes it again, until it is made.
func TestAnIndexDroppedWhileRunningIsUnavailableNotAnInternalError(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		index string
		read  eventstore.ReadAllOptions
	}{
		{"events_stream_type_event_type_position", eventstore.ReadAllOptions{Limit: 10, StreamTypes: []string{"t"}, EventTypes: []string{"Happened"}}},
		{"events_stream_type_position", eventstore.ReadAllOptions{Limit: 10, StreamTypes: []string{"t", "u"}}},
		{"events_event_type_position", eventstore.ReadAllOptions{Limit: 10, EventTypes: []string{"Happened", "Other"}}},
	} {
		t.Run(c.index, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := openMigrated(t, t.TempDir())
			t.Cleanup(func() { s.Close() })
			appendEvents(t, s, uuid.New(), 2, 10)
			var create string
			if err := s.QueryRow(ctx, "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = '"+c.index+"'", &create); err != nil {
				t.Fatal(err)
			}
			if err := s.Exec(ctx, "DROP INDEX "+c.index); err != nil {
				t.Fatal(err)
			}
			_, err := s.ReadAll(ctx, c.read)
			for what, err := range map[string]error{"the filtered read": err, "Ping": s.Ping(ctx)} {
				if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), c.index) || !strings.Contains(err.Error(), create) {
					t.Errorf("%s with the index %s dropped: %v; want an error wrapping ErrUnavailable naming the index and %q", what, c.index, err, create)
				}
			}
			if err := s.Exec(ctx, create); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReadAll(ctx, c.read); err != nil {
				t.Errorf("the filtered read once %s is made again: %v", c.index, err)
			}
			if err := s.Ping(ctx); err != nil {
				t.Errorf("Ping once %s is made again: %v", c.index, err)
			}
		})
	}
}

// TestTheEventsTableDroppedWhileStoppedIsNamedAtTheStart: with events
// dropped from the file while the server was stopped, the start was
// refused with SQLite's bare "read the log's head: SQL logic error: no such
// table: events". It names the table missing and the remedy.
func TestTheEventsTableDroppedWhileStoppedIsNamedAtTheStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	appendEvents(t, s, uuid.New(), 2, 10)
	dropWhileStopped(t, s, "DROP TABLE events")
	s, err := sqlitestore.Open(context.Background(), dir, sqlitestore.Options{})
	if err == nil {
		s.Close()
	}
	var missing *eventstore.MissingError
	if !errors.As(err, &missing) || missing.Table != "events" || !strings.Contains(err.Error(), "backup") {
		t.Errorf("the start after DROP TABLE events while stopped: %v; want it refused with an eventstore.MissingError naming events, "+
			"saying to restore from a backup", err)
	}
}

package sqlitestore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// remakeEvents returns the statements that make the events table again,
// rows and named indexes with it, as CREATE TABLE's statement with old
// replaced by new makes it: how an operator changes a column's type or a
// table's constraints in SQLite, which alters neither.
func remakeEvents(t *testing.T, s *sqlitestore.Store, old, new string) []string {
	t.Helper()
	var create string
	if err := s.QueryRow(t.Context(), "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'events'", &create); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(create, old, new, 1)
	if changed == create {
		t.Fatalf("the events table's statement has no %q: %s", old, create)
	}
	qs := []string{
		strings.Replace(changed, "CREATE TABLE events", "CREATE TABLE events_remade", 1),
		"INSERT INTO events_remade SELECT * FROM events",
		"DROP TABLE events",
		"ALTER TABLE events_remade RENAME TO events",
	}
	for _, index := range []string{"events_stream_type_position", "events_event_type_position", "events_stream_type_event_type_position"} {
		var q string
		if err := s.QueryRow(t.Context(), "SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = '"+index+"'", &q); err != nil {
			t.Fatal(err)
		}
		qs = append(qs, q)
	}
	return qs
}

// TestAnIndexOrAColumnOtherThanTheMigrationsMakeRefusesTheStart: the
// start compared the names of the file's indexes with the migrations',
// and nothing of its columns but their names: an index of the store's name
// on other columns, partial or of another collation (which INDEXED BY
// then cannot use, or uses to miss rows), the events table made again
// without its UNIQUE (stream_id, stream_version) (the last guard against a
// duplicated stream version), and a key column of another type
// (events.position no longer the rowid, events.data TEXT), or one
// compared without regard to case (events.event_type COLLATE NOCASE: a
// read filtered on "Order" returns "order"'s events) all passed, and
// the store ran on them. The start now refuses each, naming the index or
// column, what it is and what the migrations make; an index's refusal
// names the statements that make it right, and once they have run it
// starts. `api verify` (Verify) refuses the same file.
func TestAnIndexOrAColumnOtherThanTheMigrationsMakeRefusesTheStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(*testing.T, *sqlitestore.Store) []string
		wants  []string
		mend   string // "": no statement mends it
	}{
		{"an index on other columns", func(*testing.T, *sqlitestore.Store) []string {
			return []string{"DROP INDEX events_stream_type_position", "CREATE INDEX events_stream_type_position ON events (stream_type)"}
		}, []string{"events_stream_type_position ON events (stream_type)"},
			"DROP INDEX events_stream_type_position; CREATE INDEX events_stream_type_position ON events (stream_type, position)"},
		{"a partial index", func(*testing.T, *sqlitestore.Store) []string {
			return []string{"DROP INDEX events_event_type_position", "CREATE INDEX events_event_type_position ON events (event_type, position) WHERE position > 1"}
		}, []string{"events_event_type_position ON events (event_type, position) WHERE position > 1"},
			"DROP INDEX events_event_type_position; CREATE INDEX events_event_type_position ON events (event_type, position)"},
		{"an index of another collation", func(*testing.T, *sqlitestore.Store) []string {
			return []string{"DROP INDEX events_stream_type_event_type_position",
				"CREATE INDEX events_stream_type_event_type_position ON events (stream_type COLLATE NOCASE, event_type, position)"}
		}, []string{"stream_type COLLATE NOCASE"},
			"DROP INDEX events_stream_type_event_type_position; CREATE INDEX events_stream_type_event_type_position ON events (stream_type, event_type, position)"},
		{"a unique constraint gone", func(t *testing.T, s *sqlitestore.Store) []string {
			return remakeEvents(t, s, "UNIQUE (stream_id, stream_version)", "CHECK (stream_version > 0)")
		}, []string{"no unique index on events (stream_id, stream_version)"},
			"CREATE UNIQUE INDEX events_stream_id_stream_version ON events (stream_id, stream_version)"},
		{"position not the rowid", func(t *testing.T, s *sqlitestore.Store) []string {
			return remakeEvents(t, s, "position       INTEGER  NOT NULL PRIMARY KEY", "position       INT  NOT NULL PRIMARY KEY")
		}, []string{"events.position", "INT PRIMARY KEY", "where the migrations make INTEGER PRIMARY KEY"}, ""},
		{"a type's name compared without case", func(t *testing.T, s *sqlitestore.Store) []string {
			return remakeEvents(t, s, "event_type     TEXT", "event_type     TEXT COLLATE NOCASE")
		}, []string{"the column events.event_type compared as NOCASE", "where the migrations make BINARY"}, ""},
		{"data of another type", func(t *testing.T, s *sqlitestore.Store) []string {
			return remakeEvents(t, s, "data           BLOB", "data           TEXT")
		}, []string{"events.data", "TEXT", "where the migrations make BLOB"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			s := openMigrated(t, dir)
			appendEvents(t, s, uuid.New(), 2, 10)
			dropWhileStopped(t, s, c.change(t, s)...)

			s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
			if err != nil {
				t.Fatalf("open after %s while stopped: %v; want the open to pass and Migrate to refuse", c.name, err)
			}
			t.Cleanup(func() { s.Close() })
			wants := c.wants
			if c.mend != "" {
				wants = append(wants, c.mend)
			} else {
				wants = append(wants, "restore the file from a backup")
			}
			_, verr := s.Verify(ctx)
			for what, err := range map[string]error{"the start (Migrate)": s.Migrate(ctx), "Verify": verr} {
				for _, w := range wants {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("%s after %s while stopped: %v; want it refused, saying %q", what, c.name, err, w)
					}
				}
			}
			if c.mend == "" {
				return
			}
			for _, q := range strings.Split(c.mend, "; ") {
				if err := s.Exec(ctx, q); err != nil {
					t.Fatalf("the statement the start named: %s: %v", q, err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Errorf("the start after the statements it named were run: %v", err)
			}
			if _, err := s.Verify(ctx); err != nil {
				t.Errorf("Verify after the statements the start named were run: %v", err)
			}
		})
	}
}

// TestAnIndexMadeOtherWhileRunningIsUnavailableNotAnInternalError: an
// index the log's filtered reads name (INDEXED BY) made again while the
// server runs as other than the migrations make it (here partial) failed
// each such read with SQLite's "no query solution", a 500, and Ping
// passed: only an index gone was looked for. Such a read, and Ping, are
// now unavailable (503), naming the index as it is and the statements that
// make it right, until they are run.
func TestAnIndexMadeOtherWhileRunningIsUnavailableNotAnInternalError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openMigrated(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, uuid.New(), 2, 10)
	for _, q := range []string{"DROP INDEX events_event_type_position",
		"CREATE INDEX events_event_type_position ON events (event_type, position) WHERE position > 100"} {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	read := eventstore.ReadAllOptions{Limit: 10, EventTypes: []string{"Happened", "Other"}}
	mend := "DROP INDEX events_event_type_position; CREATE INDEX events_event_type_position ON events (event_type, position)"
	_, err := s.ReadAll(ctx, read)
	for what, err := range map[string]error{"the filtered read": err, "Ping": s.Ping(ctx)} {
		var missing *eventstore.MissingError
		if !errors.As(err, &missing) || !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "WHERE position > 100") ||
			!strings.Contains(err.Error(), mend) {
			t.Errorf("%s with events_event_type_position made partial: %v; want the MissingError (unavailable) naming the index as it is and %q", what, err, mend)
		}
	}
	for _, q := range strings.Split(mend, "; ") {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// The read without a Ping first: see
	// TestAFilteredReadAfterAnIndexIsMadeRightAgainIsNoInternalError.
	if _, err := s.ReadAll(ctx, read); err != nil {
		t.Errorf("the filtered read once the index is made right: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once the index is made right: %v", err)
	}
	if _, err := s.ReadAll(ctx, read); err != nil {
		t.Errorf("the filtered read once the index is made right: %v", err)
	}
}

// TestATypesNameUnderRTRIMStartsAndIsReadWithCase: the start refused a
// type's name column under any collation but BINARY, though RTRIM, which
// compares byte for byte but for trailing spaces (which no name holds),
// compares names as BINARY does: the events table made again with one
// refused every start, as utf8mb4_nopad_bin did on MySQL. It now starts, and
// a read filtered on a type, stream type or both returns only that name's,
// not the one of another case; NOCASE is refused as before.
func TestATypesNameUnderRTRIMStartsAndIsReadWithCase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	dropWhileStopped(t, s, remakeEvents(t, s, "stream_type    TEXT     NOT NULL,\n    event_type     TEXT     NOT NULL",
		"stream_type    TEXT     NOT NULL COLLATE RTRIM,\n    event_type     TEXT     NOT NULL COLLATE RTRIM")...)
	s, err := sqlitestore.Open(ctx, dir, sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("the start with the types' names COLLATE RTRIM: %v; want it to go on", err)
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify with the types' names COLLATE RTRIM: %v; want it to pass", err)
	}
	storetest.ReadsTellTypeNamesByCase(ctx, t, s, "RTRIM")
}

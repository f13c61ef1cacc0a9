package mysqlstore_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
)

// TestAKeyColumnOfAnotherTypeOrATableNotInnoDBRefusesTheStart: the start
// looked at the store's columns by name only: events.position made an INT
// (the log stops at 2^31), events.data a BLOB (an event over 64 KiB
// refused, or cut where the SQL mode allows), an id of another length
// passed, and the store ran on them, as did a type's name compared without
// regard to case (a filtered read then returns another type's events); so
// did a table converted to MyISAM,
// under which the appends' transactions and row locks do nothing. The
// start now refuses, naming each column, its type and the type the
// migrations make, or the table and its engine, and the ALTER TABLE that
// makes it so; run, that statement lets the next start go on.
func TestAKeyColumnOfAnotherTypeOrATableNotInnoDBRefusesTheStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		changes []string
		wants   []string
	}{
		{"position an INT", []string{"ALTER TABLE events MODIFY position INT NOT NULL"},
			[]string{"events.position as int", "where the migrations make bigint", "ALTER TABLE events MODIFY position BIGINT NOT NULL"}},
		{"data a BLOB", []string{"ALTER TABLE events MODIFY data BLOB NOT NULL"},
			[]string{"events.data as blob", "where the migrations make longblob", "ALTER TABLE events MODIFY data LONGBLOB NOT NULL"}},
		{"an id of another length, a version of another type", []string{"ALTER TABLE streams MODIFY stream_id VARBINARY(16) NOT NULL",
			"ALTER TABLE events MODIFY stream_version INT NOT NULL"},
			[]string{"streams.stream_id as varbinary(16)", "where the migrations make binary(16)", "events.stream_version as int",
				"ALTER TABLE events MODIFY stream_version BIGINT NOT NULL", "ALTER TABLE streams MODIFY stream_id BINARY(16) NOT NULL"}},
		{"a type name compared without case", []string{"ALTER TABLE events MODIFY event_type VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL"},
			[]string{"events.event_type as varchar(128) COLLATE utf8mb4_general_ci", "where the migrations make varchar(128) COLLATE utf8mb4_bin",
				"ALTER TABLE events MODIFY event_type VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"}},
		{"a table in MyISAM", []string{"ALTER TABLE streams ENGINE = MyISAM"},
			[]string{"the table streams in MyISAM", "where the migrations make InnoDB", "ALTER TABLE streams ENGINE = InnoDB"}},
		{"a column and a table", []string{"ALTER TABLE log_head ENGINE = MyISAM", "ALTER TABLE log_head MODIFY position INT NOT NULL"},
			[]string{"log_head.position as int", "the table log_head in MyISAM", "ALTER TABLE log_head ENGINE = InnoDB, MODIFY position BIGINT NOT NULL"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, dsn := guardedTest(t)
			s := openLogged(t, dsn, slog.New(slog.DiscardHandler))
			if _, err := appendOne(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			db := otherProcessDB(t, dsn)
			for _, q := range c.changes {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}

			s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatalf("open after %s while stopped: %v; want the open to pass and Migrate to refuse", c.changes, err)
			}
			t.Cleanup(func() { s.Close() })
			err = s.Migrate(ctx)
			for _, w := range c.wants {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("the start (Migrate) after %s while stopped: %v; want it refused, saying %q", c.changes, err, w)
				}
			}
			if t.Failed() {
				return
			}
			_, mends, _ := strings.Cut(err.Error(), "then start again: ")
			for _, q := range strings.Split(mends, "; ") {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("the statement the start named: %s: %v", q, err)
				}
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("the start after the statements it named were run: %v", err)
			}
		})
	}
}

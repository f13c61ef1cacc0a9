package sqlitestore_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestATableDroppedWhileRunningIsMissingNotAnInternalError: with one of the
// store's tables gone from the file while the server ran (dropped from an
// sqlite3 shell, or a backup of another schema restored with .restore),
// reads and appends failed with SQLite's "no such table: events", a 500
// "internal error", and /readyz answered 200; the MySQL store answers
// such a loss 503, naming the table (eventstore.MissingError). So must
// this one, for every read, append and Ping.
func TestATableDroppedWhileRunningIsMissingNotAnInternalError(t *testing.T) {
	t.Parallel()
	for _, table := range []string{"events", "streams", "log_head"} {
		t.Run(table, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, t.TempDir())
			t.Cleanup(func() { s.Close() })
			stream := uuid.New()
			appendEvents(t, s, stream, 2, 10)
			if err := s.Exec(t.Context(), "DROP TABLE "+table); err != nil {
				t.Fatal(err)
			}
			// A read that does not read the table passes, as on MySQL;
			// Ping and an append (which writes all three) must fail.
			for what, c := range map[string]struct {
				err  error
				must bool
			}{
				"Ping":    {s.Ping(t.Context()), true},
				"Head":    {func() error { _, err := s.Head(t.Context()); return err }(), false},
				"ReadAll": {func() error { _, err := readLog(t.Context(), s); return err }(), false},
				"ReadStream": {func() error {
					_, err := s.ReadStream(t.Context(), stream, eventstore.ReadStreamOptions{Limit: 10})
					return err
				}(), false},
				"Append": {func() error {
					_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
						Events: []eventstore.NewEvent{{Type: "After", Data: []byte(`{}`)}}})
					return err
				}(), true},
			} {
				if c.err == nil && !c.must {
					continue
				}
				var missing *eventstore.MissingError
				if !errors.As(c.err, &missing) || missing.Table != table || !errors.Is(c.err, eventstore.ErrUnavailable) {
					t.Errorf("%s with the table %s dropped: %v; want an eventstore.MissingError naming %s (unavailable)", what, table, c.err, table)
				}
			}
		})
	}
}

// TestAColumnGoneWhileRunningIsMissingNotAnInternalError: a file of an
// older schema restored into the running store's (sqlite3 .restore of an
// older backup), or a column dropped by hand, made every append a 500
// ("table events has no column named checksum"), and /readyz said ready.
// The column is missing, as on MySQL: a 503 naming it.
func TestAColumnGoneWhileRunningIsMissingNotAnInternalError(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ table, column string }{{"events", "checksum"}, {"log_head", "commit_id"}} {
		t.Run(c.table+"."+c.column, func(t *testing.T) {
			t.Parallel()
			s := openMigrated(t, t.TempDir())
			t.Cleanup(func() { s.Close() })
			appendEvents(t, s, uuid.New(), 2, 10)
			if err := s.Exec(t.Context(), "ALTER TABLE "+c.table+" DROP COLUMN "+c.column); err != nil {
				t.Fatal(err)
			}
			_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "After", Data: []byte(`{}`)}}})
			for what, err := range map[string]error{"Append": err, "Ping": s.Ping(t.Context())} {
				var missing *eventstore.MissingError
				if !errors.As(err, &missing) || missing.Column != c.table+"."+c.column || !errors.Is(err, eventstore.ErrUnavailable) {
					t.Errorf("%s with the column %s.%s dropped: %v; want an eventstore.MissingError naming the column (unavailable)", what, c.table, c.column, err)
				}
			}
		})
	}
}

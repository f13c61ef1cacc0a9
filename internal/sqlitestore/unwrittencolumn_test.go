package sqlitestore_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
)

// TestAnUnwrittenColumnWithoutADefaultIsNamed: SQLite refuses ALTER TABLE
// … ADD COLUMN … NOT NULL without a default, but a table rebuilt by hand
// (here, its schema edited) can have one: every append then failed with
// SQLite's "NOT NULL constraint failed: streams.legacy", untranslated, a
// 500 "internal error". It is the MySQL store's 1364: an
// eventstore.UnwrittenColumnError naming the table and column, a 503.
func TestAnUnwrittenColumnWithoutADefaultIsNamed(t *testing.T) {
	t.Parallel()
	s := storeWithAnUnwrittenColumn(t)
	err := appendToANewStream(t, s)
	var unwritten *eventstore.UnwrittenColumnError
	if !errors.Is(err, eventstore.ErrUnavailable) || !errors.As(err, &unwritten) || unwritten.Table != "streams" || unwritten.Column != "legacy" {
		t.Errorf("an append with streams.legacy NOT NULL and without a default: %v; want an UnwrittenColumnError naming streams.legacy (unavailable)", err)
	}
	// Ping did not look for it: /readyz said nothing while appends that
	// create a stream were refused, where MySQL's says appends are refused
	// naming it (a retest). It is Ping's partial finding, as MySQL's.
	err = s.Ping(t.Context())
	if !errors.As(err, &unwritten) || unwritten.Table != "streams" || unwritten.Column != "legacy" || unwritten.Err != nil {
		t.Errorf("Ping with streams.legacy NOT NULL and without a default: %v; want an UnwrittenColumnError naming streams.legacy, found by looking", err)
	}
}

// TestAnUnwrittenColumnsAdviceIsOneSQLiteCanFollow: the error of an
// unwritten column told the operator to drop the column "or give it a
// default", which SQLite cannot do (it has no ALTER COLUMN: only a rebuild
// of the table gives a column a default). The append's error and Ping's
// must give the statement that mends it on SQLite, and no default; and
// that statement, run beside the server, must mend it without a restart.
func TestAnUnwrittenColumnsAdviceIsOneSQLiteCanFollow(t *testing.T) {
	t.Parallel()
	s := storeWithAnUnwrittenColumn(t)
	const mend = `ALTER TABLE "streams" DROP COLUMN "legacy"`
	appendOne := func() error { return appendToANewStream(t, s) }
	for what, err := range map[string]error{"an append": appendOne(), "Ping": s.Ping(t.Context())} {
		if !errors.As(err, new(*eventstore.UnwrittenColumnError)) || !strings.Contains(err.Error(), mend) || strings.Contains(err.Error(), "default (") ||
			strings.Contains(err.Error(), "gives it a default") {
			t.Errorf("%s with streams.legacy NOT NULL and without a default: %v; want an UnwrittenColumnError giving %q, and no default "+
				"to give it (SQLite has no ALTER COLUMN)", what, err, mend)
		}
	}
	// Beside the server, as an operator's sqlite3 shell would.
	db, err := sql.Open("sqlite", "file:"+s.Path()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(t.Context(), mend); err != nil {
		t.Fatalf("the advice, %s: %v", mend, err)
	}
	if err := appendOne(); err != nil {
		t.Errorf("an append once the advice was followed: %v; want it written, without a restart", err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping once the advice was followed: %v; want nil", err)
	}
}

// storeWithAnUnwrittenColumn opens a migrated store holding a stream, whose
// streams table then has a column legacy NOT NULL without a default, as a
// table rebuilt by hand can (SQLite's ALTER TABLE refuses one).
func storeWithAnUnwrittenColumn(t *testing.T) *sqlitestore.Store {
	t.Helper()
	s := openMigrated(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, uuid.New(), 1, 10)
	if err := s.Exec(t.Context(), "PRAGMA writable_schema=ON; "+
		"UPDATE sqlite_master SET sql = replace(sql, ') WITHOUT ROWID', ', legacy INT NOT NULL) WITHOUT ROWID') WHERE type = 'table' AND name = 'streams'; "+
		"PRAGMA schema_version = 1000; PRAGMA writable_schema=OFF"); err != nil {
		t.Fatal(err)
	}
	return s
}

// appendToANewStream appends one event to a new stream of s, which writes
// a row of streams, and returns the append's error.
func appendToANewStream(t *testing.T, s *sqlitestore.Store) error {
	t.Helper()
	_, err := s.Append(t.Context(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`{}`)}}})
	return err
}

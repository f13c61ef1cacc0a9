package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestReadyzFailsWhileTheLogsHeadRowIsMissingOnSQLite: with log_head's row
// deleted (an sqlite3 shell's DELETE FROM log_head, a hand restore part way)
// every append and every subscription of the embedded store answered 503,
// but Ping (/readyz) said ready, while the server ran and after a restart:
// a load balancer kept sending appends to an instance that could take
// none. The MySQL store's fix (TestReadyzFailsWhileTheLogsHeadRowIsMissing)
// had no sibling here. Ping fails, unavailable, naming the row, until it
// is back.
func TestReadyzFailsWhileTheLogsHeadRowIsMissingOnSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, uuid.New(), 2, 10)
	// An operator's statements in the sqlite3 shell, beside the server.
	operator := func(q string) {
		t.Helper()
		db, err := sql.Open("sqlite", s.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	wantMissing := func(when string, err error) {
		t.Helper()
		if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "log_head") || !strings.Contains(err.Error(), "missing") {
			t.Errorf("Ping (/readyz) %s, log_head's row missing: %v; want an error wrapping ErrUnavailable saying log_head's row is missing", when, err)
		}
	}
	operator("CREATE TABLE kept AS SELECT * FROM log_head; DELETE FROM log_head")
	wantMissing("while the server runs", s.Ping(ctx))
	operator("INSERT INTO log_head SELECT * FROM kept")
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping (/readyz) once log_head's row is back: %v", err)
	}

	// The same at a start: the store opens (every read is served), not
	// ready until the row is back.
	operator("DELETE FROM log_head")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openMigrated(t, dir)
	t.Cleanup(func() { s.Close() })
	err := s.Ping(ctx)
	wantMissing("after a start", err)
	// The mend the error names puts the row back where appends go on.
	const mend = "INSERT INTO log_head (id, position, recorded_at) SELECT 1, COALESCE(MAX(position), 0), MAX(recorded_at) FROM events"
	if err == nil || !strings.Contains(err.Error(), strings.ReplaceAll(mend, `"`, `\"`)) {
		t.Fatalf("Ping (/readyz) after a start, log_head's row missing: %v; want it to name the mend %s", err, mend)
	}
	operator(mend)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping (/readyz) after a start, once log_head's row is back: %v", err)
	}
	appendEvents(t, s, uuid.New(), 1, 10)
	if n, err := readLog(ctx, s); err != nil || n != 3 {
		t.Errorf("the log once log_head's row is mended and one more event appended: %d events, %v; want 3", n, err)
	}
}

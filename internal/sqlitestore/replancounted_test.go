package sqlitestore_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAReadReplannedCountsEachStatementItSent:
// tributary_db_statements_total counts the statements this process sent
// (README). A read refused as planned has its connection read the schema
// and is sent once more there (replan, the dialect's Replan), but neither
// the schema's read nor the second sending was counted. Each is now: the
// read's kind counts both sendings, `replan` the schema's read.
func TestAReadReplannedCountsEachStatementItSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := metrics.New("test")
	s := openNew(t, sqlitestore.Options{Metrics: m})
	appendEvents(t, s, uuid.New(), 2, 10)
	// A partial index the filtered read names: refused as planned on each
	// connection, before and after its schema is read again.
	for _, q := range []string{"DROP INDEX events_event_type_position",
		"CREATE INDEX events_event_type_position ON events (event_type, position) WHERE position > 100"} {
		if err := s.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	const kind = "read_events"
	before, replansBefore := teststore.Statements(t, m, kind), teststore.Statements(t, m, "replan")
	if _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10, EventTypes: []string{"Happened", "Other"}}); err == nil {
		t.Fatal("a filtered read on a partial index passed; want it refused (the test's set-up is wrong)")
	}
	if n := teststore.Statements(t, m, kind) - before; n != 2 {
		t.Errorf("a read refused as planned, replanned and sent again: counted %d %s statements; want 2", n, kind)
	}
	if n := teststore.Statements(t, m, "replan") - replansBefore; n != 1 {
		t.Errorf("a read refused as planned: counted %d replan statements (its connection's read of the schema); want 1", n)
	}
}

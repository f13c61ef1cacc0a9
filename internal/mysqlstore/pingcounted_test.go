package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPingCountsEachStatementItSends: tributary_db_statements_total
// counts the statements this process sent (README), but Ping's (/readyz's
// check, every few seconds from each orchestrator) were not counted at
// all. Each is now, as `ping`: with no read replica, the tables and
// indexes, the columns the store does not write, and the head against the
// last event.
func TestAPingCountsEachStatementItSends(t *testing.T) {
	t.Parallel()
	s, m := openCounted(t, mysqltest.NewDatabase(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := teststore.Statements(t, m, "ping")
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if n := teststore.Statements(t, m, "ping") - before; n != 3 {
		t.Errorf("a ping that passed: counted %d ping statements; want 3 (tables, columns, head)", n)
	}
}

package sqlitestore_test

import (
	"context"
	"testing"

	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPingCountsEachStatementItSends: tributary_db_statements_total
// counts the statements this process sent (README), but Ping's (/readyz's
// check) were not counted at all. Each is now, as `ping`: the connection's
// ping, the schema, the head against the last event, the columns the
// store does not write.
func TestAPingCountsEachStatementItSends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := metrics.New("test")
	s := openNew(t, sqlitestore.Options{Metrics: m})
	before := teststore.Statements(t, m, "ping")
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if n := teststore.Statements(t, m, "ping") - before; n != 4 {
		t.Errorf("a ping that passed: counted %d ping statements; want 4 (the connection's ping, schema, head, columns)", n)
	}
}

package mysqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestPingNamesAnIndexMissingOnTheReplicaOnly: Ping (/readyz) read the
// read replica's tables without the indexes the filtered reads force, so an
// index missing there only (a replica rebuilt from a dump without secondary
// keys, a migration not applied there yet) passed it unsaid, while every
// read that forces it answered 503: /readyz said nothing of what it names
// for the primary's (filtered_reads refused, missing_index). It must return
// the MissingError naming the index, as the primary's (a partial finding:
// /readyz stays 200), saying it is the read replica's, with no ALTER TABLE
// to run there; and a table missing on the replica behind it is still the
// whole failure.
func TestPingNamesAnIndexMissingOnTheReplicaOnly(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	replicaDSN := mysqltest.NewDatabase(t)
	replica := openMigrated(ctx, t, replicaDSN, Options{})
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW")
	primary.CreateDatabase(t, "tributary")
	s := openMigrated(ctx, t, primary.DSN("tributary"), Options{ReadDSN: replicaDSN})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping with the replica's schema whole: %v; want nil", err)
	}
	if _, err := replica.primary.ExecContext(ctx, "ALTER TABLE events DROP KEY events_event_type_position"); err != nil {
		t.Fatal(err)
	}
	err := s.Ping(ctx)
	var missing *eventstore.MissingError
	if !errors.As(err, &missing) || missing.Index != "events_event_type_position" {
		t.Fatalf("Ping with the index events_event_type_position dropped on the read replica only: %v; "+
			"want the MissingError naming it (/readyz 200 with missing_index, as for the primary's)", err)
	}
	for _, said := range []string{err.Error(), missing.Error()} {
		if !strings.Contains(said, "read replica") || !strings.Contains(said, "on the primary") || strings.Contains(said, "ALTER TABLE") {
			t.Errorf("Ping with an index missing on the read replica only said %q; want it to name the read replica, "+
				"say to make it on the primary, and give no ALTER TABLE to run there", said)
		}
	}
	if _, err := replica.primary.ExecContext(ctx, "DROP TABLE streams"); err != nil {
		t.Fatal(err)
	}
	err = s.Ping(ctx)
	if err == nil || (errors.As(err, &missing) && missing.Index != "") {
		t.Errorf("Ping with an index and the table streams missing on the read replica: %v; want the table's failure, not the index's partial one", err)
	}
}

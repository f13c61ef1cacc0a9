package mysqlstore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestAReadDSNAtAnotherLogIsRefusedAtStart: a read DSN naming a database
// that is no replica of the primary at all (another Tributary log, on
// another server) started with only a warning ("reports no replication"),
// and its events were then served as the primary's, 200, until /readyz's
// next check found the log another (and reads stayed 200). The start
// compares the logs now, as /readyz does: the event at the replica's head
// must be the primary's at that position, and a replica past the
// primary's head is no replica of it either. Either is refused at once,
// saying so (not an outage to wait out: no ErrUnavailable). One with no
// events yet (a replica behind the primary's first append) starts.
func TestAReadDSNAtAnotherLogIsRefusedAtStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	p := openMigrated(ctx, t, primary, Options{})
	if _, err := appendHappened(ctx, p, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	// Another log, on the shared server: its own event at position 1.
	other := mysqltest.NewDatabase(t)
	o := openMigrated(ctx, t, other, Options{})
	if _, err := appendHappened(ctx, o, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, primary, Options{ReadDSN: other})
	if err == nil {
		s.Close()
		t.Fatal("a read DSN at another log, its event at position 1 not the primary's, opened; want the start refused")
	}
	if !errors.Is(err, ErrReplicaDiverged) || errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "TRIBUTARY_MYSQL_READ_DSN") {
		t.Errorf("a read DSN at another log: %v; want ErrReplicaDiverged naming TRIBUTARY_MYSQL_READ_DSN, not ErrUnavailable (a start that waits)", err)
	}

	// Ahead of the primary: two events there, one on the primary.
	if _, err := appendHappened(ctx, o, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, primary, Options{ReadDSN: other})
	if err == nil {
		s.Close()
		t.Fatal("a read DSN at a log past the primary's head opened; want the start refused")
	}
	if !errors.Is(err, ErrReplicaAhead) || errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("a read DSN at a log past the primary's head: %v; want ErrReplicaAhead, not ErrUnavailable", err)
	}

	// An empty log, as a replica still behind the primary's first append
	// shows it: nothing to tell it by, and it starts.
	empty := mysqltest.NewDatabase(t)
	openMigrated(ctx, t, empty, Options{})
	s, err = Open(ctx, primary, Options{ReadDSN: empty})
	if err != nil {
		t.Fatalf("a read DSN at a log with no events yet: %v; want it opened (a replica behind)", err)
	}
	s.Close()
}

package mysqlstore

import (
	"context"
	"errors"
	"log/slog"
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
// primary's head is no replica of it either. Either is refused, saying
// so (not an outage to wait out: no ErrUnavailable); the one past the
// head once the start's context ends, the primary not caught up
// (TestAReplicaAheadOfThePrimaryAtStartIsWaitedFor). One with no events
// yet (a replica behind the primary's first append) starts.
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
	// The start waits for the primary to catch up (a failover under way)
	// until its context ends: ended here once it warned.
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	s, err = Open(actx, primary, Options{ReadDSN: other, Logger: slog.New(&onWarn{has: "ahead of the primary", do: acancel})})
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

// TestReadsOnAReplicaFoundServingAnotherLogAreRefused: a replica that
// becomes another log while the service runs (re-pointed at another
// primary, promoted and written to) was said only by /readyz, 503 with the
// catch-all cause, while reads and subscriptions went on serving that
// log's events, 200. Once the replica's lag (/readyz's check) finds its
// head's event not the primary's, reads are refused, wrapping
// eventstore.ErrReplicaOtherLog (a cause of its own), until a check finds
// the logs the same again. So are the live feed's (Tail), which read the
// replica too: subscriptions already open went on being handed the other
// log's events while reads were refused; they get none now.
func TestReadsOnAReplicaFoundServingAnotherLogAreRefused(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	other := mysqltest.NewDatabase(t)
	o := openMigrated(ctx, t, other, Options{})
	s := openMigrated(ctx, t, primary, Options{ReadDSN: other})
	if _, err := s.ReplicaLag(ctx); err != nil {
		t.Fatalf("the lag of an empty replica: %v", err)
	}
	if _, err := appendHappened(ctx, s, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	if _, err := appendHappened(ctx, o, uuid.New(), eventstore.NoStream); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplicaLag(ctx); !errors.Is(err, eventstore.ErrReplicaOtherLog) || !errors.Is(err, ErrReplicaDiverged) {
		t.Fatalf("the lag of a replica holding another event at its head: %v; want ErrReplicaDiverged and eventstore.ErrReplicaOtherLog", err)
	}
	reads := map[string]func() error{
		"a read of the log": func() error { _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}); return err },
		"the head":          func() error { _, err := s.Head(ctx); return err },
		"a list of streams": func() error { _, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{Limit: 10}); return err },
		"a stream":          func() error { _, err := s.Stream(ctx, uuid.New()); return err },
		"a stream's page": func() error {
			_, err := s.ReadStream(ctx, uuid.New(), eventstore.ReadStreamOptions{Limit: 10})
			return err
		},
		// The live feed's reads, on the replica too: subscriptions already
		// open were handed that log's events while reads were refused.
		"the live feed's head": func() error { _, err := s.Tail().Head(ctx); return err },
		"the live feed's read of the log": func() error {
			_, err := s.Tail().ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10})
			return err
		},
		"the live feed's look at an event's id": func() error { _, err := s.Tail().IDAt(ctx, 1); return err },
	}
	for what, read := range reads {
		if err := read(); !errors.Is(err, eventstore.ErrReplicaOtherLog) || !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("%s on a replica found serving another log: %v; want ErrUnavailable and ErrReplicaOtherLog, not its events", what, err)
		}
	}
}

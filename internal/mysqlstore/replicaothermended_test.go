package mysqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// TestReadsOnAReplicaFoundServingAnotherLogAreServedOnceTheLogsMatchWithNoLagAsked:
// a replica found past the primary's head (briefly so in a failover: the
// new primary not yet caught up) had its reads refused, replica_other_log,
// until a later ReplicaLag (/readyz's check, a read waiting for a position)
// found the logs the same again. Where nothing asked for the lag (no
// readiness probe, no read after an append), the refusal stood for ever,
// the logs matching long since. A refused read now checks the logs itself,
// one check at a time, at most each otherLogRecheck, and is served once
// they match; ReplicaLag agrees.
func TestReadsOnAReplicaFoundServingAnotherLogAreServedOnceTheLogsMatchWithNoLagAsked(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	primary := mysqltest.NewServer(t, "--server-id=1", "--log-bin=binlog", "--sync-binlog=1", "--binlog-format=ROW").CreateDatabase(t, "tributary")
	other := mysqltest.NewDatabase(t)
	o := openMigrated(ctx, t, other, Options{})
	s := openMigrated(ctx, t, primary, Options{ReadDSN: other})

	// The replica one event ahead: found serving another log.
	id := uuid.New()
	happened := func(st eventstore.Store) error {
		_, err := st.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{ID: id, Type: "Happened", Data: []byte(`{"n":1}`)}}})
		return err
	}
	if err := happened(o); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReplicaLag(ctx); !errors.Is(err, ErrReplicaAhead) || !errors.Is(err, eventstore.ErrReplicaOtherLog) {
		t.Fatalf("the lag of a replica past the primary's head: %v; want ErrReplicaAhead and eventstore.ErrReplicaOtherLog", err)
	}
	readAll := func() error { _, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 10}); return err }
	if err := readAll(); !errors.Is(err, eventstore.ErrReplicaOtherLog) {
		t.Fatalf("a read on a replica found past the primary's head: %v; want ErrReplicaOtherLog", err)
	}

	// The primary catches up: the same event at position 1 on both.
	if err := happened(s); err != nil {
		t.Fatal(err)
	}
	// Nothing asks for the lag now: the reads alone must find the logs
	// the same again.
	var err error
	for err = readAll(); errors.Is(err, eventstore.ErrReplicaOtherLog) && ctx.Err() == nil; err = readAll() {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatalf("a read once the replica's log is the primary's again, nothing asking for the lag: %v; want it served", err)
	}
	for what, read := range map[string]func() error{
		"the head":          func() error { _, err := s.Head(ctx); return err },
		"a list of streams": func() error { _, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{Limit: 10}); return err },
		"the lag":           func() error { _, err := s.ReplicaLag(ctx); return err },
	} {
		if err := read(); err != nil {
			t.Errorf("%s once the logs match again: %v; want it served", what, err)
		}
	}
}

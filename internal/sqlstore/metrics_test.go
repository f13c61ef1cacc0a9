package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStatementIsCountedOnlyIfItWasSent: tributary_db_statements_total
// counts the statements this process sent. When an append's INSERT fails (a
// row written behind the store's back takes its position), a store that
// sends its statements one at a time (SQLite) never sends the head's update
// and COMMIT after it, and must not count them; a store that sends the
// writes and COMMIT in one round trip (MySQL) sent them, and counts the
// stopped batch whole, as the README says. On both stores.
func TestAStatementIsCountedOnlyIfItWasSent(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		m := metrics.New("test")
		s := teststore.OpenCounted(t, k, m)
		rogue, stream := uuid.New(), uuid.New()
		k.Exec(t, s, "INSERT INTO events (position, event_id, stream_id, stream_version, stream_type, event_type, data, recorded_at) VALUES (1, ?, ?, 1, 'thing', 'Rogue', '{}', ?)",
			rogue[:], stream[:], time.Now().UTC())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing",
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}})
		if err == nil {
			t.Fatal("an append whose position a row written behind the store's back takes: succeeded; expected the store's error")
		}
		inserts, heads, commits := teststore.Statements(t, m, "insert_events"), teststore.Statements(t, m, "set_head"), teststore.Statements(t, m, "commit")
		if inserts == 0 {
			t.Fatal("no insert_events statement counted for the append that failed at its INSERT")
		}
		batched := k.Name == teststore.MySQL.Name // the writes and COMMIT go in one round trip
		if batched && (heads != inserts || commits != inserts) {
			t.Errorf("%d stopped batches sent: counted insert_events %d, set_head %d, commit %d; expected each batch counted whole", inserts, inserts, heads, commits)
		}
		if !batched && (heads != 0 || commits != 0) {
			t.Errorf("%d INSERTs failed, statement by statement: counted set_head %d and commit %d; expected 0, for neither was sent after a failed INSERT", inserts, heads, commits)
		}
	})
}

// TestAReadNotLostCountsOneStatement: each read statement is counted
// where it is sent (eachRow and scanRow count each sending, a read sent
// again twice: TestAReadSentAgainOnAFreshConnectionCountsEachStatementItSent);
// a read whose connection holds counts one. On both stores.
func TestAReadNotLostCountsOneStatement(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		m := metrics.New("test")
		s := teststore.OpenCounted(t, k, m)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id := uuid.New()
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "counted", Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: "c", Data: []byte(`{}`)}}}); err != nil {
			t.Fatalf("append: %v", err)
		}
		for _, c := range []struct {
			kind string
			read func() error
		}{
			{"read_stream", func() error { _, err := s.Stream(ctx, id); return err }},
			{"read_event", func() error { _, err := s.Event(ctx, id, 1); return err }},
			{"read_event_position", func() error { _, err := s.EventPosition(ctx, id, 1); return err }},
			{"list_streams", func() error {
				_, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{StreamTypes: []string{"counted"}})
				return err
			}},
		} {
			before := teststore.Statements(t, m, c.kind)
			if err := c.read(); err != nil {
				t.Fatalf("%s: %v", c.kind, err)
			}
			if n := teststore.Statements(t, m, c.kind) - before; n != 1 {
				t.Errorf("one read, its connection held: counted %d %s statements; want 1", n, c.kind)
			}
		}
	})
}

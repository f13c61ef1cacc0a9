package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAReadSentAgainOnAFreshConnectionCountsEachStatementItSent:
// tributary_db_statements_total counts the statements this process sent
// (README). A read whose connection was lost once its statement had gone
// out is sent once more on a fresh one
// (TestAReadWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne), but
// only its first sending was counted: the counter, the one place an
// operator could see reads lost under them and sent again, showed none.
// Each sending is now counted.
func TestAReadSentAgainOnAFreshConnectionCountsEachStatementItSent(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	m := metrics.New("test")
	s, err := mysqlstore.Open(ctx, dsn, mysqlstore.Options{Metrics: m})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	// An id of plain letters, interpolated into the statement as it is.
	marker := []byte("rstores2-resent!")
	id := uuid.UUID(marker)
	const typ = "rstores2Resent"
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: typ, Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "r", Data: []byte(`{"n":1}`)}, {Type: "r", Data: []byte(`{"n":2}`)}}}); err != nil {
		t.Fatalf("append: %v", err)
	}
	for _, c := range []struct {
		name, kind string
		cut        func([]byte) bool
		read       func() error
	}{
		{"the stream", "read_stream", chunkHas(string(marker), "ORDER BY e.stream_version DESC"), func() error {
			_, err := s.Stream(ctx, id)
			return err
		}},
		{"a page of the stream", "read_events", chunkHas(string(marker), "BETWEEN"), func() error {
			page, err := s.ReadStream(ctx, id, eventstore.ReadStreamOptions{})
			if err != nil {
				return err
			}
			for _, err := range page.Events {
				if err != nil {
					return err
				}
			}
			return nil
		}},
		{"an event's position", "read_event_position", chunkHas(string(marker), "SELECT position, "), func() error {
			_, err := s.EventPosition(ctx, id, 2)
			return err
		}},
		{"a list of streams", "list_streams", chunkHas(typ, "stream_type IN"), func() error {
			_, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{StreamTypes: []string{typ}})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := teststore.Statements(t, m, c.kind)
			cut := proxy.CutAfter(c.cut)
			err := c.read()
			// The client's side is closed before the proxy says it cut.
			select {
			case <-cut:
			case <-ctx.Done():
				t.Fatalf("the proxy cut no statement of the read (%v): the test's match is wrong", err)
			}
			if err != nil {
				t.Fatalf("read with its connection cut once its statement went out: %v; want it answered on a fresh connection", err)
			}
			if n := teststore.Statements(t, m, c.kind) - before; n != 2 {
				t.Errorf("a read sent twice (cut once its statement went out, then on a fresh connection): counted %d %s statements; want 2", n, c.kind)
			}
		})
	}
}

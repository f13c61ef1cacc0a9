package mysqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAReadWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne: a pooled
// connection that a proxy or the server closed while it sat idle (the
// driver's liveness check does not always see it) fails the next statement
// sent on it after it went out: go-sql-driver says mysql.ErrInvalidConn,
// which database/sql does not retry, and the read answered 503 although a
// fresh connection would have served it. A read is idempotent: each kind
// is now sent again, once, on another connection, and answers as if
// nothing had happened. The proxy cuts the connection the moment the
// read's statement has reached the server, before any answer; the live
// feed's reads of the log, on connections of its own, are read again too.
func TestAReadWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s := teststore.OpenMySQL(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// An id of plain letters: interpolated into the statement as it is,
	// so that the proxy can tell this stream's reads from any other.
	marker := []byte("rstores-idlecut!")
	id := uuid.UUID(marker)
	const typ = "rstoresIdleCut"
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: typ, Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "cut", Data: []byte(`{"n":1}`)}, {Type: "cut", Data: []byte(`{"n":2}`)}}}); err != nil {
		t.Fatalf("append: %v", err)
	}
	drain := func(events func(func(eventstore.Event, error) bool)) (n int, err error) {
		for _, err := range events {
			if err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	for _, c := range []struct {
		name string
		cut  func([]byte) bool
		read func() (int, error)
	}{
		{"the stream", chunkHas(string(marker), "ORDER BY e.stream_version DESC"), func() (int, error) {
			st, err := s.Stream(ctx, id)
			return int(st.Version), err
		}},
		{"a page of the stream", chunkHas(string(marker), "BETWEEN"), func() (int, error) {
			page, err := s.ReadStream(ctx, id, eventstore.ReadStreamOptions{})
			if err != nil {
				return 0, err
			}
			return drain(page.Events)
		}},
		{"an event", chunkHas(string(marker), "AND stream_version = ", "data"), func() (int, error) {
			e, err := s.Event(ctx, id, 2)
			return int(e.Version), err
		}},
		{"an event's position", chunkHas(string(marker), "SELECT position, "), func() (int, error) {
			_, err := s.EventPosition(ctx, id, 2)
			return 2, err
		}},
		{"a page of the log", chunkHas(typ, "SELECT"), func() (int, error) {
			page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{StreamTypes: []string{typ}})
			if err != nil {
				return 0, err
			}
			return drain(page.Events)
		}},
		{"a list of streams", chunkHas(typ, "stream_type IN"), func() (int, error) {
			list, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{StreamTypes: []string{typ}})
			return 2 * len(list.Streams), err
		}},
		{"the log's head", chunkHas("SELECT position FROM log_head WHERE id = 1"), func() (int, error) {
			head, err := s.Head(ctx)
			return int(min(head, 2)), err
		}},
		// With a read replica, a read that must not go behind what its
		// client was answered asks the primary.
		{"the stream's version on the primary", chunkHas(string(marker), "COALESCE(MAX(stream_version), 0)"), func() (int, error) {
			v, err := s.PrimaryStreamVersion(ctx, id)
			return int(v), err
		}},
		// The live feed's reads, on its own connections.
		{"the feed's head", chunkHas("SELECT h.position, (SELECT e.position"), func() (int, error) {
			head, err := s.Tail().Head(ctx)
			return int(min(head, 2)), err
		}},
		{"the feed's event id", chunkHas("SELECT event_id FROM events WHERE position = "), func() (int, error) {
			got, err := s.Tail().IDAt(ctx, 2)
			if got == uuid.Nil {
				return 0, err
			}
			return 2, err
		}},
		{"the feed's page", chunkHas(typ, "SELECT"), func() (int, error) {
			page, err := s.Tail().ReadAll(ctx, eventstore.ReadAllOptions{StreamTypes: []string{typ}})
			if err != nil {
				return 0, err
			}
			return drain(page.Events)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cut := proxy.CutAfter(c.cut)
			n, err := c.read()
			// The client's side is closed before the proxy says it cut.
			select {
			case <-cut:
			case <-ctx.Done():
				t.Fatalf("the proxy cut no statement of the read (answered %d, %v): the test's match is wrong", n, err)
			}
			if err != nil || n != 2 {
				t.Errorf("read with its connection cut mid-statement: %d, %v; want it answered on a fresh connection (2)", n, err)
			}
		})
	}
}

package mysqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
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
	const typ = "rstoresIdleCut"
	r := openMarkedStream(t, "rstores-idlecut!", typ,
		[]eventstore.NewEvent{{Type: "cut", Data: []byte(`{"n":1}`)}, {Type: "cut", Data: []byte(`{"n":2}`)}})
	s, ctx, id, marker := r.s, r.ctx, r.id, r.marker
	for _, c := range []struct {
		name string
		cut  func([]byte) bool
		read func() (int, error)
	}{
		{"the stream", chunkHas(marker, "ORDER BY e.stream_version DESC"), func() (int, error) {
			st, err := s.Stream(ctx, id)
			return int(st.Version), err
		}},
		{"a page of the stream", chunkHas(marker, "BETWEEN"), func() (int, error) {
			page, err := s.ReadStream(ctx, id, eventstore.ReadStreamOptions{})
			if err != nil {
				return 0, err
			}
			return drainInOrder(page.Events)
		}},
		{"an event", chunkHas(marker, "AND stream_version = ", "data"), func() (int, error) {
			e, err := s.Event(ctx, id, 2)
			return int(e.Version), err
		}},
		{"an event's position", chunkHas(marker, "SELECT position, "), func() (int, error) {
			_, err := s.EventPosition(ctx, id, 2)
			return 2, err
		}},
		{"a page of the log", chunkHas(typ, "SELECT"), func() (int, error) {
			page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{StreamTypes: []string{typ}})
			if err != nil {
				return 0, err
			}
			return drainInOrder(page.Events)
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
		{"the stream's version on the primary", chunkHas(marker, "COALESCE(MAX(stream_version), 0)"), func() (int, error) {
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
			return drainInOrder(page.Events)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.answeredDespiteCut(t, "mid-statement", r.proxy.CutAfter(c.cut), c.read, 2)
		})
	}
}

// A store whose reads' connections a proxy cuts: what the read-cut tests
// (this file's and readcutmidresult's) share.
type markedStream struct {
	s      *mysqlstore.Store
	proxy  *faultproxy.Proxy
	ctx    context.Context // ends after a minute, or with the test
	marker string          // the stream's id as its 16 bytes
	id     uuid.UUID
}

// openMarkedStream opens a store on a database of its own behind the fault
// proxy, and appends evs to a new stream of type typ whose id is marker, 16
// plain letters: interpolated into a statement as it is, so that the proxy
// can tell this stream's reads from any other.
func openMarkedStream(t *testing.T, marker, typ string, evs []eventstore.NewEvent) markedStream {
	t.Helper()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	r := markedStream{s: teststore.OpenMySQL(t, dsn), proxy: proxy, marker: marker, id: uuid.UUID([]byte(marker))}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	r.ctx = ctx
	if _, err := r.s.Append(ctx, eventstore.AppendRequest{StreamID: r.id, StreamType: typ, Expected: eventstore.NoStream, Events: evs}); err != nil {
		t.Fatalf("append: %v", err)
	}
	return r
}

// answeredDespiteCut runs read, whose connection the proxy was armed to cut
// before the call (cut is the arming's signal; where says where it cuts),
// and fails t unless the proxy did cut it and the read still answered want,
// with no error: on a fresh connection.
func (r markedStream) answeredDespiteCut(t *testing.T, where string, cut <-chan struct{}, read func() (int, error), want int) {
	t.Helper()
	n, err := read()
	// The client's side is closed before the proxy says it cut.
	select {
	case <-cut:
	case <-r.ctx.Done():
		t.Fatalf("the proxy cut nothing of the read (answered %d, %v): the test's match is wrong", n, err)
	}
	if err != nil || n != want {
		t.Errorf("read with its connection cut %s: %d, %v; want it answered on a fresh connection (%d)", where, n, err, want)
	}
}

// drainInOrder reads a page's events, and checks each comes once, in order.
func drainInOrder(events func(func(eventstore.Event, error) bool)) (n int, err error) {
	var last int64
	for e, err := range events {
		if err != nil {
			return n, err
		}
		if e.Position <= last {
			return n, fmt.Errorf("event at %d after one at %d", e.Position, last)
		}
		last = e.Position
		n++
	}
	return n, nil
}

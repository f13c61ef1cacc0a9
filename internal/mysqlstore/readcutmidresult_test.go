package mysqlstore_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAReadWhoseConnectionIsCutMidResultIsAnsweredOnAFreshOne: a read's
// connection lost once some of its result had come (its header, some
// rows) failed the read with go-sql-driver's ErrInvalidConn from its rows,
// which nothing sent again: 503, where a read whose connection was lost
// before its answer is sent again on a fresh one
// (TestAReadWhoseConnectionIsCutMidStatementIsAnsweredOnAFreshOne). Such a
// read keeps every row of a statement before it hands one on (its caller,
// a client's page, has been given none of them): its statement is now sent
// again, once, on another connection, and the read answers whole, each
// event once.
func TestAReadWhoseConnectionIsCutMidResultIsAnsweredOnAFreshOne(t *testing.T) {
	t.Parallel()
	const typ, listed = "rstoresMidCut", "rstoresMidCutList"
	const events, streams = 10, 30
	evs := make([]eventstore.NewEvent, events)
	for i := range evs {
		evs[i] = eventstore.NewEvent{Type: "cut", Data: fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i+1, strings.Repeat("x", 2000))}
	}
	r := openMarkedStream(t, "rstores-midcut!!", typ, evs)
	s, ctx, id, marker := r.s, r.ctx, r.id, r.marker
	for range streams {
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: listed, Expected: eventstore.NoStream,
			Events: []eventstore.NewEvent{{Type: "one", Data: []byte(`{}`)}}}); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	for _, c := range []struct {
		name  string
		cut   func([]byte) bool
		after int // bytes of its answer: its header, and a row or more
		read  func() (int, error)
		want  int
	}{
		{"a page of the stream", chunkHas(marker, "data, metadata"), 3000, func() (int, error) {
			page, err := s.ReadStream(ctx, id, eventstore.ReadStreamOptions{})
			if err != nil {
				return 0, err
			}
			return drainInOrder(page.Events)
		}, events},
		{"an event", chunkHas(marker, "AND stream_version = ", "data, metadata"), 1500, func() (int, error) {
			e, err := s.Event(ctx, id, 3)
			if err == nil && !bytes.Contains(e.Data, []byte(`"n":3`)) {
				return 0, fmt.Errorf("event 3 holds %.20s", e.Data)
			}
			return int(e.Version), err
		}, 3},
		{"a page of the log", chunkHas(typ, "data, metadata"), 3000, func() (int, error) {
			page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{StreamTypes: []string{typ}})
			if err != nil {
				return 0, err
			}
			return drainInOrder(page.Events)
		}, events},
		{"the feed's page of the log", chunkHas(typ, "data, metadata"), 3000, func() (int, error) {
			page, err := s.Tail().ReadAll(ctx, eventstore.ReadAllOptions{StreamTypes: []string{typ}})
			if err != nil {
				return 0, err
			}
			return drainInOrder(page.Events)
		}, events},
		{"a list of streams", chunkHas(listed, "stream_type IN"), 1500, func() (int, error) {
			list, err := s.ListStreams(ctx, eventstore.ListStreamsOptions{StreamTypes: []string{listed}})
			return len(list.Streams), err
		}, streams},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.answeredDespiteCut(t, "midway through its result", r.proxy.CutAnswerAfter(c.cut, c.after), c.read, c.want)
		})
	}
}

package sqlstore

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestTheInsertOfAMixedGroupGivesEachRowItsOwnValues: insertEvents boxes
// a value a row shares with the row before once, and slices the rows' own
// ids, not a copy's. Rows of streams that come, go and come back, with
// types, times and metadata (absent, present) changing from row to row:
// each row's arguments are its own values, with and without recorded_at
// and the checksum.
func TestTheInsertOfAMixedGroupGivesEachRowItsOwnValues(t *testing.T) {
	t.Parallel()
	a, b := uuid.New(), uuid.New()
	t0 := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
	rows := []row{
		{Position: 1, StreamID: a, StreamType: "order", Version: 1, Event: eventstore.NewEvent{ID: uuid.New(), Type: "Placed", Data: []byte(`{"n":1}`)}, RecordedAt: t0, BatchSize: 2},
		{Position: 2, StreamID: a, StreamType: "order", Version: 2, Event: eventstore.NewEvent{ID: uuid.New(), Type: "Placed", Data: []byte(`{"n":2}`), Metadata: []byte(`{"m":2}`)}, RecordedAt: t0},
		{Position: 3, StreamID: b, StreamType: "invoice", Version: 1, Event: eventstore.NewEvent{ID: uuid.New(), Type: "Placed", Data: []byte(`{"n":3}`)}, RecordedAt: t0, BatchSize: 1},
		{Position: 4, StreamID: a, StreamType: "order", Version: 3, Event: eventstore.NewEvent{ID: uuid.New(), Type: "Paid", Data: []byte(`{"n":4}`), Metadata: []byte(`{}`)}, RecordedAt: t0.Add(time.Microsecond), BatchSize: 1},
		{Position: 5, StreamID: b, StreamType: "invoice", Version: 2, Event: eventstore.NewEvent{ID: uuid.New(), Type: "Paid", Data: []byte(`null`)}, RecordedAt: t0, BatchSize: 1},
	}
	sum := func(e eventstore.Event) int64 { return e.Position*1000 + e.Version }
	for _, c := range []struct {
		now string
		sum func(eventstore.Event) int64
	}{{"", nil}, {"", sum}, {"NOW(6)", nil}, {"NOW(6)", sum}} {
		t.Run(fmt.Sprintf("now=%q,sum=%t", c.now, c.sum != nil), func(t *testing.T) {
			st := insertEvents(rows, c.now, c.sum)
			per := len(st.args) / len(rows)
			if per*len(rows) != len(st.args) {
				t.Fatalf("%d arguments for %d rows", len(st.args), len(rows))
			}
			for i, r := range rows {
				args := st.args[i*per : (i+1)*per]
				want := []any{r.Position, r.Event.ID[:], r.StreamID[:], r.Version, r.StreamType, r.Event.Type, r.Event.Data, nullable(r.Event.Metadata)}
				if c.now == "" {
					want = append(want, r.RecordedAt)
				}
				want = append(want, r.BatchSize)
				if c.sum != nil {
					want = append(want, c.sum(eventstore.Event{Position: r.Position, Version: r.Version}))
				}
				if len(args) != len(want) {
					t.Fatalf("row %d: %d arguments; want %d", i, len(args), len(want))
				}
				for k := range want {
					if !sameArg(args[k], want[k]) {
						t.Errorf("row %d, argument %d: %#v; want the row's own, %#v", i, k, args[k], want[k])
					}
				}
			}
		})
	}
}

// sameArg reports whether two query arguments hold the same value.
func sameArg(got, want any) bool {
	switch w := want.(type) {
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, w) && (g == nil) == (w == nil)
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	}
	return got == want
}

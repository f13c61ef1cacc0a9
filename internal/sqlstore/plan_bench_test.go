package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
)

// BenchmarkPlan measures the pure part of one group transaction, with no
// database: newPlan and apply for every call of the group. The
// groups are what the writer gathers under load: single-event appends, each
// to its own existing stream with If-Match (groups of 1, 8 and 32), and one
// append of a 100-event batch. Event ids are the server's, as when a client
// sends none. The known-events map is made afresh per group, as begin does,
// because apply adds to it.
func BenchmarkPlan(b *testing.B) {
	for _, bc := range []struct {
		name           string
		calls, batches int
	}{
		{"group=1", 1, 1},
		{"group=8", 8, 1},
		{"group=32", 32, 1},
		{"batch=100", 1, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			now := time.Now()
			calls := benchCalls(b, bc.calls, bc.batches)
			found := make(map[uuid.UUID]streamState, len(calls))
			for _, c := range calls {
				found[c.req.StreamID] = streamState{Type: "order", Version: 10, CreatedAt: now}
			}
			b.ReportAllocs()
			for b.Loop() {
				p := newPlan(1000, now, calls, found, make(map[uuid.UUID]knownEvent))
				for _, c := range calls {
					if o := p.apply(c); o.err != nil {
						b.Fatal(o.err)
					}
				}
				if got := len(p.rows); got != bc.calls*bc.batches {
					b.Fatalf("planned %d rows, want %d", got, bc.calls*bc.batches)
				}
			}
		})
	}
}

// benchCalls returns n calls of size events each, every one to its own
// stream at version 10, as the writer hands them to the plan.
func benchCalls(b *testing.B, n, size int) []*call {
	b.Helper()
	calls := make([]*call, n)
	for i := range calls {
		events := make([]eventstore.NewEvent, size)
		for j := range events {
			events[j] = eventstore.NewEvent{ID: mustV7(b), Type: "ItemAdded", Data: []byte(storetest.BenchData)}
		}
		calls[i] = &call{req: eventstore.AppendRequest{StreamID: mustV7(b), StreamType: "order",
			Expected: eventstore.Exactly(10), Events: events}}
	}
	return calls
}

func mustV7(b *testing.B) uuid.UUID {
	b.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		b.Fatal(fmt.Errorf("make id: %w", err))
	}
	return id
}

// BenchmarkInsertEvents measures the encoding of a group's rows into the
// arguments of its INSERT (insertEvents, recorded_at bound as a value):
// the groups of BenchmarkPlan, planned once.
func BenchmarkInsertEvents(b *testing.B) {
	for _, bc := range []struct {
		name           string
		calls, batches int
	}{
		{"group=1", 1, 1},
		{"group=32", 32, 1},
		{"batch=100", 1, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			now := time.Now()
			calls := benchCalls(b, bc.calls, bc.batches)
			found := make(map[uuid.UUID]streamState, len(calls))
			for _, c := range calls {
				found[c.req.StreamID] = streamState{Type: "order", Version: 10, CreatedAt: now}
			}
			p := newPlan(1000, now, calls, found, make(map[uuid.UUID]knownEvent))
			for _, c := range calls {
				if o := p.apply(c); o.err != nil {
					b.Fatal(o.err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if st := insertEvents(p.rows, "", nil); len(st.args) != 10*len(p.rows) {
					b.Fatalf("%d arguments for %d rows, want %d", len(st.args), len(p.rows), 10*len(p.rows))
				}
			}
		})
	}
}

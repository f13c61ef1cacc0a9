package sqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAGroupOfMixedAppendsStoresEveryRowWithItsOwnValues: the append's
// INSERT boxes a value a row shares with the row before once (a batch's
// stream id, stream type and event type, a group's time) and slices the
// ids of the rows themselves, not of copies. A group of appends to several
// streams, two of them twice, of several stream and event types, with
// metadata absent and present, and events with ids of their own and
// without, queued behind another session's write lock so that they go
// together: each event reads back with its own id, stream, stream type,
// version, type, data and metadata, in the log and in its stream. On both
// stores.
func TestAGroupOfMixedAppendsStoresEveryRowWithItsOwnValues(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"mysql", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			m := metrics.New("test")
			store, lock, waitStatement := openLocked(t, kind, m)
			streams := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
			types := []string{"order", "order", "invoice"}
			type sent struct {
				stream uuid.UUID
				typ    string
				events []eventstore.NewEvent
			}
			var appends []sent
			for i := range 6 {
				s := i % len(streams)
				var evs []eventstore.NewEvent
				for j := range 1 + i%3 {
					e := eventstore.NewEvent{Type: []string{"Placed", "Paid", "Placed"}[(i+j)%3], Data: fmt.Appendf(nil, `{"append":%d,"event":%d}`, i, j)}
					if j%2 == 1 {
						e.Metadata = fmt.Appendf(nil, `{"by":"append %d"}`, i)
					}
					if (i+j)%2 == 0 {
						e.ID = uuid.New()
					}
					evs = append(evs, e)
				}
				appends = append(appends, sent{streams[s], types[s], evs})
			}
			// The first append waits for the lock; those after it queue
			// behind it and go as one group once it is freed.
			first := make(chan error, 1)
			go func() {
				_, err := store.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "other", Expected: eventstore.NoStream,
					Events: []eventstore.NewEvent{{Type: "First", Data: []byte(`{}`)}}})
				first <- err
			}()
			waitUntil(t, "the first append waiting for the write lock", func() bool { return teststore.Statements(t, m, waitStatement) > 0 })
			// Appends to the same stream in a fixed order: each expects the
			// version the one before left (Any would do, but this says the
			// versions too).
			results := make([]eventstore.AppendResult, len(appends))
			errs := make([]error, len(appends))
			var wg sync.WaitGroup
			for s := range streams {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i, a := range appends {
						if a.stream != streams[s] {
							continue
						}
						results[i], errs[i] = store.Append(ctx, eventstore.AppendRequest{StreamID: a.stream, StreamType: a.typ, Expected: eventstore.Any, Events: a.events})
					}
				}()
			}
			if err := lock.Rollback(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			if err := <-first; err != nil {
				t.Fatalf("the first append: %v", err)
			}
			for i, a := range appends {
				if errs[i] != nil {
					t.Fatalf("append %d: %v", i, errs[i])
				}
				for j, want := range a.events {
					rec := results[i].Events[j]
					if want.ID != uuid.Nil && rec.ID != want.ID {
						t.Errorf("append %d, event %d: stored with id %s; want its own, %s", i, j, rec.ID, want.ID)
					}
					got, err := store.Event(ctx, a.stream, rec.Version)
					if err != nil {
						t.Fatalf("append %d, event %d (version %d): %v", i, j, rec.Version, err)
					}
					checkStored(t, fmt.Sprintf("append %d, event %d, read by its version", i, j), got, a.stream, a.typ, rec, want)
					page, err := store.ReadAll(ctx, eventstore.ReadAllOptions{After: rec.Position - 1, Limit: 1})
					if err != nil {
						t.Fatal(err)
					}
					for e, err := range page.Events {
						if err != nil {
							t.Fatal(err)
						}
						checkStored(t, fmt.Sprintf("append %d, event %d, read in the log", i, j), e, a.stream, a.typ, rec, want)
					}
				}
			}
		})
	}
}

// checkStored fails t unless e, read back, is want as appended to stream
// of streamType and recorded as rec.
func checkStored(t *testing.T, what string, e eventstore.Event, stream uuid.UUID, streamType string, rec eventstore.RecordedEvent, want eventstore.NewEvent) {
	t.Helper()
	if e.ID != rec.ID || e.StreamID != stream || e.StreamType != streamType || e.Version != rec.Version || e.Position != rec.Position ||
		e.Type != want.Type || !bytes.Equal(e.Data, want.Data) || !bytes.Equal(e.Metadata, want.Metadata) || (e.Metadata == nil) != (want.Metadata == nil) ||
		!e.RecordedAt.Equal(rec.RecordedAt) {
		t.Errorf("%s: got id %s, stream %s (%s), version %d, position %d, type %s, data %s, metadata %q (nil %t), recorded %v; "+
			"want id %s, stream %s (%s), version %d, position %d, type %s, data %s, metadata %q (nil %t), recorded %v",
			what, e.ID, e.StreamID, e.StreamType, e.Version, e.Position, e.Type, e.Data, e.Metadata, e.Metadata == nil, e.RecordedAt,
			rec.ID, stream, streamType, rec.Version, rec.Position, want.Type, want.Data, want.Metadata, want.Metadata == nil, rec.RecordedAt)
	}
}

package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestPlanDecidesAGroupInOrder: the plan applies a group's requests one
// after another against what the transaction read, each seeing the ones
// before it, and lays out dense positions for those that pass.
func TestPlanDecidesAGroupInOrder(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	existing, fresh := uuid.New(), uuid.New()
	ev := func(id uuid.UUID, typ string) eventstore.NewEvent {
		return eventstore.NewEvent{ID: id, Type: typ, Data: []byte(`{}`)}
	}
	stored := uuid.New()
	mk := func(stream uuid.UUID, typ string, expected eventstore.ExpectedVersion, events ...eventstore.NewEvent) *call {
		c := &call{req: eventstore.AppendRequest{StreamID: stream, StreamType: typ, Expected: expected, Events: events}}
		for _, e := range events {
			c.clientIDs = append(c.clientIDs, e.ID)
		}
		return c
	}
	a, b := uuid.New(), uuid.New()
	calls := []*call{
		mk(existing, "", eventstore.Exactly(3), ev(a, "A")),                      // 3 → 4, position 11
		mk(existing, "", eventstore.Exactly(3), ev(uuid.New(), "B")),             // sees 4: wrong version
		mk(fresh, "", eventstore.Any, ev(uuid.New(), "C")),                       // new stream, no type
		mk(fresh, "order", eventstore.NoStream, ev(b, "D"), ev(uuid.New(), "E")), // positions 12, 13
		mk(existing, "other", eventstore.Any, ev(uuid.New(), "F")),               // type mismatch
		mk(existing, "", eventstore.Any, ev(a, "A")),                             // a retry of the first, in the same group
		mk(existing, "", eventstore.Any, ev(a, "Changed")),                       // a's id with other content
		mk(existing, "", eventstore.Any, ev(stored, "Old")),                      // a retry of what was stored before
		mk(fresh, "", eventstore.Any, ev(a, "Changed")),                          // a's id, another stream's, with other content
	}
	found := map[uuid.UUID]streamState{existing: {Type: "order", Version: 3, CreatedAt: now.Add(-time.Hour)}}
	known := map[uuid.UUID]knownEvent{stored: {StreamID: existing, StreamType: "order", Version: 2, Position: 7,
		RecordedAt: now.Add(-time.Minute), Type: "Old", Data: []byte(`{}`), BatchSize: 1}}
	p := newPlan(10, now, calls, found, known)
	var out []outcome
	for _, c := range calls {
		out = append(out, p.apply(c))
	}
	check := func(i int, want error) {
		t.Helper()
		if !errors.Is(out[i].err, want) {
			t.Errorf("request %d: err = %v, want %v", i, out[i].err, want)
		}
	}
	check(0, nil)
	check(1, eventstore.ErrWrongExpectedVersion)
	check(2, eventstore.ErrStreamTypeRequired)
	check(3, nil)
	check(4, eventstore.ErrStreamTypeMismatch)
	check(5, nil)
	check(6, eventstore.ErrIdempotencyKeyReused)
	check(7, nil)
	var dup *eventstore.DuplicateEventError
	if !errors.As(out[8].err, &dup) || dup.EventID != a || dup.InStream {
		t.Errorf("request 8: err = %v; want a's id used by another stream", out[8].err)
	}
	if r := out[0].res; r.Version != 4 || r.Events[0].Position != 11 || r.Duplicate {
		t.Errorf("first append: %+v; want version 4 at position 11", r)
	}
	if r := out[3].res; r.Version != 2 || r.Events[0].Position != 12 || r.Events[1].Position != 13 || r.StreamType != "order" {
		t.Errorf("new stream: %+v; want versions 1-2 at positions 12-13 of type order", r)
	}
	if r := out[5].res; !r.Duplicate || r.Events[0].Position != 11 {
		t.Errorf("retry in the same group: %+v; want the first append's result, marked duplicate", r)
	}
	if r := out[7].res; !r.Duplicate || r.Events[0].Position != 7 || r.Version != 2 {
		t.Errorf("retry of a stored batch: %+v; want position 7, version 2, duplicate", r)
	}
	if p.head != 13 || len(p.rows) != 3 {
		t.Errorf("plan: head %d with %d rows; want 13 with 3", p.head, len(p.rows))
	}
	for i, r := range p.rows {
		if r.Position != int64(11+i) || !r.RecordedAt.Equal(now) {
			t.Errorf("row %d: position %d at %s; want %d at %s", i, r.Position, r.RecordedAt, 11+i, now)
		}
	}
	if p.rows[1].BatchSize != 2 || p.rows[2].BatchSize != 0 || p.rows[0].BatchSize != 1 {
		t.Errorf("batch sizes %d %d %d; want 1, 2, 0 (on each append's first event)", p.rows[0].BatchSize, p.rows[1].BatchSize, p.rows[2].BatchSize)
	}
	if created := p.created(); len(created) != 1 || created[0].ID != fresh || created[0].Type != "order" || !created[0].CreatedAt.Equal(now) {
		t.Errorf("created streams %+v; want only fresh, of type order, created now", created)
	}
}

package fanout

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// heldBytes is the data and metadata of the events the live buffer's slots
// hold now.
//
// The slots are read one by one while the tailer may dispatch: an event it
// clears after the look at its slot, beside one it stores before the look
// at another, would be counted both (5 events of 256 KiB in a buffer of 1
// MiB, one CI run in many). The tailer moves oldest before it clears or
// stores a slot, so the events still held are those at or past oldest read
// after the slots.
func (f *Feed) heldBytes() int64 {
	var seen []*eventstore.Event
	for i := range f.slots {
		if e := f.slots[i].Load(); e != nil {
			seen = append(seen, e)
		}
	}
	oldest := f.oldest.Load()
	var n int64
	for _, e := range seen {
		if e.Position >= oldest {
			n += int64(len(e.Data) + len(e.Metadata))
		}
	}
	return n
}

// slotBytes is the data and metadata of the events the live buffer's slots
// hold, each counted, whatever oldest says: what the buffer keeps from the
// garbage collector. Read while the tailer does not dispatch (heldBytes).
func (f *Feed) slotBytes() int64 {
	var n int64
	for i := range f.slots {
		if e := f.slots[i].Load(); e != nil {
			n += int64(len(e.Data) + len(e.Metadata))
		}
	}
	return n
}

// TestTheLiveBufferIsBoundedByBytesAndSubscribersStillGetEveryEventOnce: the
// live buffer was bounded by count alone (1,024 events of up to 1 MiB each:
// a gigabyte). With large events it now holds no more than BufferBytes,
// whatever a poll reads, and a subscriber that falls out of it reads the
// store and still gets every event once, in order.
func TestTheLiveBufferIsBoundedByBytesAndSubscribersStillGetEveryEventOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		const limit = 1 << 20
		f := New(store, Options{PollInterval: 10 * time.Millisecond, BufferBytes: limit})
		ctx := runUntilEnd(t, f)

		// A subscription that stops reading once caught up keeps the tailer
		// filling the buffer; it reads again at the end.
		idle := f.Subscribe(eventstore.SubscribeOptions{})
		defer idle.Close()
		var idleGot []int64
		idleEmit := func(d eventstore.Delivery) error {
			if d.Event != nil {
				idleGot = append(idleGot, d.Event.Position)
			}
			return nil
		}
		var caughtUp bool
		for deadline := time.Now().Add(5 * time.Second); !caughtUp; {
			if err := idle.Next(ctx, func(d eventstore.Delivery) error { caughtUp = caughtUp || d.CaughtUp; return idleEmit(d) }); err != nil {
				t.Fatal(err)
			}
			if caughtUp {
				break
			}
			select {
			case <-idle.Ready():
			case <-time.After(time.Until(deadline)):
				t.Fatal("the subscription did not catch up in 5 s")
			}
		}

		data := []byte(`{"pad":"` + strings.Repeat("x", 256<<10) + `"}`)
		var want []int64
		peak := int64(0)
		s := f.Notifying(store)
		for range 4 {
			// Four events of 256 KiB in one commit: one poll reads 1 MiB.
			res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Big", Data: data}, {Type: "Big", Data: data}, {Type: "Big", Data: data}, {Type: "Big", Data: data}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Events {
				want = append(want, e.Position)
			}
			last := res.Events[len(res.Events)-1].Position
			for deadline := time.Now().Add(5 * time.Second); f.head.Load() < last; time.Sleep(time.Millisecond) {
				peak = max(peak, f.heldBytes())
				if time.Now().After(deadline) {
					t.Fatalf("the tailer did not reach position %d in 5 s", last)
				}
			}
			peak = max(peak, f.heldBytes())
		}
		if peak > limit {
			t.Errorf("the live buffer held %d bytes of events, want at most BufferBytes (%d)", peak, limit)
		}
		if peak == 0 {
			t.Error("the live buffer held nothing while a subscription was open: the test proves nothing")
		}
		// heldBytes counts the events at or past oldest alone: slots that
		// still held events let go (below oldest) were not counted. With
		// the tailer at the last event and nothing new, nothing dispatches:
		// every slot is counted.
		if n := f.slotBytes(); n > limit {
			t.Errorf("the live buffer's slots hold %d bytes of events, want at most BufferBytes (%d): events it let go are still held", n, limit)
		}

		// The idle subscription fell out of the buffer: it reads the store,
		// then the buffer, and gets every event once, in order.
		for deadline := time.Now().Add(10 * time.Second); len(idleGot) < len(want); {
			if err := idle.Next(ctx, idleEmit); err != nil {
				t.Fatal(err)
			}
			if len(idleGot) >= len(want) {
				break
			}
			select {
			case <-idle.Ready():
			case <-time.After(time.Until(deadline)):
				t.Fatalf("the subscription got %d of %d events in 10 s", len(idleGot), len(want))
			}
		}
		if !slices.Equal(idleGot, want) {
			t.Errorf("the subscription got positions %v, want %v: each once, in order", idleGot, want)
		}
	})
}

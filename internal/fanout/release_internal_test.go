package fanout

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheLiveBufferHoldsNoEventOnceEverySubscriptionHasEnded: the live
// buffer keeps the latest events for the subscriptions open; with none open
// the tailer follows the log's head and the buffer serves no one. It kept
// the events it held for good (up to 1,024, each up to
// TRIBUTARY_MAX_EVENT_BYTES: a gigabyte), until subscriptions came back and
// new events took their slots.
func TestTheLiveBufferHoldsNoEventOnceEverySubscriptionHasEnded(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		f := New(store, Options{PollInterval: 10 * time.Millisecond})
		ctx := runUntilEnd(t, f)

		sub := f.Subscribe(eventstore.SubscribeOptions{})
		got := 0
		emit := func(d eventstore.Delivery) error {
			if d.Event != nil {
				got++
			}
			return nil
		}
		data := []byte(`{"pad":"` + strings.Repeat("x", 64<<10) + `"}`)
		for range 5 {
			if _, err := f.Notifying(store).Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Big", Data: data}, {Type: "Big", Data: data}}}); err != nil {
				t.Fatal(err)
			}
		}
		for deadline := time.Now().Add(5 * time.Second); got < 10; {
			if err := sub.Next(ctx, emit); err != nil {
				t.Fatal(err)
			}
			if got >= 10 {
				break
			}
			select {
			case <-sub.Ready():
			case <-time.After(time.Until(deadline)):
				t.Fatalf("got %d of 10 events", got)
			}
		}
		held := func() int {
			n := 0
			for i := range f.slots {
				if f.slots[i].Load() != nil {
					n++
				}
			}
			return n
		}
		if held() == 0 {
			t.Fatal("the live buffer held nothing while a subscription read it: the test proves nothing")
		}
		sub.Close()
		// The bound is on a hang alone: the tailer lets the buffer go at
		// its next poll, which a loaded machine may take seconds to run.
		for deadline := time.Now().Add(30 * time.Second); held() > 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("30 s after the last subscription ended, the live buffer still holds %d events; want none", held())
			}
		}
		// A subscription that opens again still gets every event.
		again := f.Subscribe(eventstore.SubscribeOptions{})
		defer again.Close()
		got = 0
		for deadline := time.Now().Add(5 * time.Second); got < 10; {
			if err := again.Next(ctx, emit); err != nil {
				t.Fatal(err)
			}
			if got >= 10 {
				break
			}
			select {
			case <-again.Ready():
			case <-time.After(time.Until(deadline)):
				t.Fatalf("a new subscription got %d of 10 events", got)
			}
		}
	})
}

package http

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestALiveSubscriberReadingTheStoreDoesNotLingerOnItsPlace: with many
// subscribers, a live one lingers after each write (up to 40 ms) to gather
// the next moment's events into one write. One that has fallen behind the
// live buffer reads the store page by page under its place in the catch-up
// budget, and lingered after each page too, holding that place for nothing
// while others waited for it: a page of 500 events read in a few
// milliseconds then cost its place 40 ms more. It now gives the place back
// at once. On both stores.
func TestALiveSubscriberReadingTheStoreDoesNotLingerOnItsPlace(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s, feed := feedServer(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, Buffer: 8, PageSize: 5}, Options{Heartbeat: time.Hour, MaxSubscribers: 10000})
		srv := serveRaw(t, s, false)

		c, resp := subscribeRaw(t, srv, 0)
		p := ssetest.NewParser(resp.Body, "")
		for f, _, err := p.Next(); f.Event != "caught-up"; f, _, err = p.Next() {
			if err != nil {
				t.Fatal(err)
			}
		}
		// As many subscribers as make a live one linger 40 ms after a write.
		s.subscribers.Add(999)
		t.Cleanup(func() { s.subscribers.Add(-999) })
		if d := s.linger(); d != maxLinger {
			t.Fatalf("linger %v with 1,000 subscribers; want %v", d, maxLinger)
		}

		const events = 400 // 80 pages of the store at 5 an event
		evs := make([]eventstore.NewEvent, events)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "X", Data: fmt.Appendf(nil, `{"i":%d}`, i)}
		}
		lingers := s.lingers.Load()
		if _, err := s.store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(time.Minute)) //nolint:errcheck
		for i := 1; i <= events; i++ {
			f, _, err := p.Next()
			if err != nil || f.ID != strconv.Itoa(i) {
				t.Fatalf("event %d: frame %s, %v", i, f, err)
			}
		}
		if feed.Dropped() == 0 {
			t.Fatal("the subscriber never fell behind the live buffer: the test proves nothing")
		}
		// A linger after each of its 80 pages held its place 3.2 s. It
		// lingers only after what it wrote from the live buffer: before it
		// fell behind, and once live again; on a loaded machine it can
		// catch up with the live buffer and fall behind it again a few
		// times (10 seen in a CI run beside eight helpers), each a linger.
		n := s.lingers.Load() - lingers
		t.Logf("lingers while it caught up: %d", n)
		if n > 20 {
			t.Errorf("a live subscriber that fell behind lingered %d times while it read %d events from the store in pages of 5; want a linger only after live writes (a few), none after a page of the store (80)", n, events)
		}
	})
}

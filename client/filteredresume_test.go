package client

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAFilteredSubscriptionDroppedMidwayMissesAndRepeatsNothing: a log
// subscription filtered by stream type and event type, whose connection
// is dropped again and again (in its catch-up, right after an event, at
// caught-up, while events the filter leaves out and events it takes are
// appended with no one connected), resumes each time after what it
// delivered, or after the id-only frames by which the server moved it
// past events the filter leaves out: it delivers every event the filter
// takes, in the log's order, each once, and none other. Against the real
// handler on both stores.
func TestAFilteredSubscriptionDroppedMidwayMissesAndRepeatsNothing(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		// Appends and reads go to one server, the subscription to
		// another of the same handler, whose connections (which the
		// handler hijacks, and httptest then forgets) the test drops.
		h := tributaryHandler(t, k)
		c := serving(t, h.ServeHTTP)
		srv := httptest.NewUnstartedServer(h)
		conns := &droppingListener{Listener: srv.Listener, open: map[net.Conn]bool{}}
		srv.Listener = conns
		srv.Start()
		t.Cleanup(srv.Close)
		sub := newClient(t, srv.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()

		// append writes n new streams, alternately of the type the filter
		// takes and another, each with events of both types in varying
		// order, so that events the filter leaves out come between and
		// after those it takes.
		// Events of 4 KiB: more than a read of the client's takes in, so
		// that a drop cuts what the server sent.
		appended, big := 0, strings.Repeat("x", 4096)
		appendSome := func(n int) {
			t.Helper()
			for range n {
				streamType, events := "order", []NewEvent{{Type: "A", Data: big}, {Type: "B", Data: big}, {Type: "A", Data: big}}
				if appended%2 == 1 {
					streamType = "invoice"
				}
				if appended%3 == 2 {
					events = []NewEvent{{Type: "B", Data: big}, {Type: "B", Data: big}}
				}
				if _, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: streamType}, NoStream, events...); err != nil {
					t.Fatalf("Append: %v", err)
				}
				appended++
			}
		}
		// want reads the log unfiltered and keeps what the filter takes.
		want := func() []uuid.UUID {
			t.Helper()
			var ids []uuid.UUID
			for e, err := range c.ReadAll(ctx, ReadAllOptions{}) {
				if err != nil {
					t.Fatalf("ReadAll: %v", err)
				}
				if e.StreamType == "order" && e.Type == "A" {
					ids = append(ids, e.ID)
				}
			}
			return ids
		}

		appendSome(30) // a catch-up to cut
		var got []uuid.UUID
		var positions []int64
		drops, caughtUp := 0, 0
		const rounds = 4
		for m, err := range sub.Subscribe(ctx, SubscribeOptions{StreamTypes: []string{"order"}, EventTypes: []string{"A"},
			MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}) {
			if err != nil {
				t.Fatalf("the subscription ended after %d events, %d drops: %v", len(got), drops, err)
			}
			if !m.CaughtUp {
				if m.Event.StreamType != "order" || m.Event.Type != "A" {
					t.Fatalf("delivered event %d, a %s of a %s stream, which the filter leaves out", m.Event.Position, m.Event.Type, m.Event.StreamType)
				}
				got, positions = append(got, m.Event.ID), append(positions, m.Event.Position)
				if len(got) == 3 {
					// Midway through the catch-up, with more of it sent
					// and perhaps read.
					conns.drop()
					drops++
				}
				continue
			}
			caughtUp++
			if caughtUp > rounds {
				break
			}
			// Dropped at caught-up, events the filter leaves out appended
			// while no one is connected (the server moves a resumption
			// past them), then events of both kinds.
			conns.drop()
			drops++
			for range 3 {
				if _, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "invoice"}, NoStream, NewEvent{Type: "A", Data: 1}); err != nil {
					t.Fatalf("Append: %v", err)
				}
				if _, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, NoStream, NewEvent{Type: "B", Data: 1}); err != nil {
					t.Fatalf("Append: %v", err)
				}
			}
			if caughtUp%2 == 0 {
				appendSome(5)
			}
		}
		expected := want()
		if !slices.IsSorted(positions) || fmt.Sprint(got) != fmt.Sprint(expected) {
			t.Errorf("after %d drops, delivered %d events at positions %v; expected the %d events the filter takes, in order, each once:\n got %v\nwant %v",
				drops, len(got), positions, len(expected), got, expected)
		}
		if drops < rounds+1 {
			t.Errorf("dropped %d connections; expected at least %d", drops, rounds+1)
		}
	})
}

// droppingListener is a listener whose accepted connections drop closes,
// each that is open.
type droppingListener struct {
	net.Listener
	mu   sync.Mutex
	open map[net.Conn]bool
}

func (l *droppingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.open[c] = true
		l.mu.Unlock()
	}
	return c, err
}

func (l *droppingListener) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.open {
		if tc, ok := c.(*net.TCPConn); ok {
			// A reset, not an end: what the client has not read yet of
			// the answer is lost with the connection, as in a crash.
			tc.SetLinger(0) //nolint:errcheck // a test's cut; Close cuts it anyway
		}
		c.Close()
	}
	clear(l.open)
}

package client

import (
	"context"
	"math"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStreamReadBackwardFromPastItsEndReadsItAll: a backward read from a
// version past the stream's starts at its last version (the server takes
// from up to math.MaxInt64). From math.MaxInt64, the client's own check
// of the first event overflowed (From+1) and refused version 3 as "not the
// read's start": a read from the end by the largest version failed.
// Against the real handler, on both stores.
func TestAStreamReadBackwardFromPastItsEndReadsItAll(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(tributaryHandler(t, k))
		t.Cleanup(srv.Close)
		c, err := New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		id := uuid.New()
		if _, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, NoStream,
			NewEvent{Type: "A", Data: 1}, NewEvent{Type: "B", Data: 2}, NewEvent{Type: "C", Data: 3}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		for _, from := range []int64{4, 1000, math.MaxInt64 - 1, math.MaxInt64} {
			var got []int64
			for e, err := range c.ReadStream(ctx, id, ReadStreamOptions{From: from, Direction: Backward, PageSize: 2}) {
				if err != nil {
					t.Fatalf("backward from %d: after versions %v, %v; expected 3, 2, 1", from, got, err)
				}
				got = append(got, e.Version)
			}
			if !slices.Equal(got, []int64{3, 2, 1}) {
				t.Errorf("backward from %d: versions %v; expected 3, 2, 1", from, got)
			}
		}
	})
}

// TestAStreamSubscriptionFromBeforeItsStartDeliversItAll: a From of 0 or
// less is the default, version 1; at math.MinInt64 the client's From-1
// overflowed to math.MaxInt64, taken for the last version delivered, and
// the subscription asked the server for from=-9223372036854775808, which
// it refuses: the subscription ended with ErrBadRequest. Against the real
// handler, on both stores.
func TestAStreamSubscriptionFromBeforeItsStartDeliversItAll(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(tributaryHandler(t, k))
		t.Cleanup(srv.Close)
		c, err := New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		id := uuid.New()
		if _, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, NoStream,
			NewEvent{Type: "A", Data: 1}, NewEvent{Type: "B", Data: 2}, NewEvent{Type: "C", Data: 3}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		for _, from := range []int64{0, -1, math.MinInt64} {
			var got []int64
			for m, err := range c.Subscribe(ctx, SubscribeOptions{StreamID: id, From: from}) {
				if err != nil {
					t.Fatalf("from %d: after versions %v, %v; expected 1, 2, 3, then caught up", from, got, err)
				}
				if m.CaughtUp {
					break
				}
				got = append(got, m.Event.Version)
			}
			if !slices.Equal(got, []int64{1, 2, 3}) {
				t.Errorf("from %d: versions %v before catching up; expected 1, 2, 3", from, got)
			}
		}
	})
}

package client

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
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
		c, ctx, id := streamOfThree(t, k)
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
		c, ctx, id := streamOfThree(t, k)
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

// TestAStreamSubscriptionWithAFilterIsRefusedAtOnce: StreamTypes and
// EventTypes filter a log subscription; the server takes no filter on a
// stream's, and the client did not send one, but checked the stream's
// events against it: a stream subscription given EventTypes delivered
// the events that matched up to the first that did not, then ended with
// an error calling that event not an answer to the subscription. It now
// ends at once, before any request, saying the filters are the log's.
// Against the real handler, on both stores.
func TestAStreamSubscriptionWithAFilterIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		var requests atomic.Int64
		h := tributaryHandler(t, k)
		c := serving(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet {
				requests.Add(1)
			}
			h.ServeHTTP(w, r)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		id := uuid.New()
		if _, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, NoStream,
			NewEvent{Type: "A", Data: 1}, NewEvent{Type: "B", Data: 2}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		for name, opts := range map[string]SubscribeOptions{
			"EventTypes":  {StreamID: id, EventTypes: []string{"A"}},
			"StreamTypes": {StreamID: id, StreamTypes: []string{"order"}},
		} {
			requests.Store(0)
			var got []Message
			var last error
			for m, err := range c.Subscribe(ctx, opts) {
				if err != nil {
					last = err
					break
				}
				if got = append(got, m); m.CaughtUp {
					break
				}
			}
			if len(got) != 0 || last == nil || !strings.Contains(last.Error(), "log subscription") || requests.Load() != 0 {
				t.Errorf("%s: delivered %d messages, then %v, after %d requests; expected an error at once saying the filters are a log subscription's",
					name, len(got), last, requests.Load())
			}
		}
	})
}

// streamOfThree returns a Client of the real handler on a fresh store of
// kind k, a context of 10 s, and a stream of three events (A, B, C) it
// appended.
func streamOfThree(t *testing.T, k teststore.Kind) (*Client, context.Context, uuid.UUID) {
	t.Helper()
	c := clientOfTributary(t, k)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	id := uuid.New()
	if _, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, NoStream,
		NewEvent{Type: "A", Data: 1}, NewEvent{Type: "B", Data: 2}, NewEvent{Type: "C", Data: 3}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return c, ctx, id
}

// TestASubscriptionGivenTheOtherKindsStartingPointIsRefusedAtOnce: After
// is where a log subscription starts, From where a stream's does, and
// each ignored the other's: a stream subscription resumed with After set
// to the last version its consumer applied delivered the stream from
// version 1 again, every event as new (a projection applied them twice),
// and a log subscription given From, the log from its start. Either now
// ends at once, before any request, naming the option to use.
func TestASubscriptionGivenTheOtherKindsStartingPointIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "no", http.StatusServiceUnavailable)
	})
	for name, tc := range map[string]struct {
		opts SubscribeOptions
		want string // the option the error names
	}{
		"a stream's, given After": {SubscribeOptions{StreamID: uuid.New(), After: 3}, "From"},
		"the log's, given From":   {SubscribeOptions{From: 4}, "After"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		opts := tc.opts
		opts.MinBackoff = time.Millisecond
		var last error
		for _, err := range c.Subscribe(ctx, opts) {
			last = err
			break
		}
		cancel()
		if last == nil || errors.Is(last, context.DeadlineExceeded) || !strings.Contains(last.Error(), tc.want) || requests.Load() != 0 {
			t.Errorf("%s: ended with %v after %d requests; expected an error at once naming %s", name, last, requests.Load(), tc.want)
		}
	}
}

package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionResumedOnALogRestoredFromAnOlderBackupEndsWithErrLogReset:
// a server restored from an older backup, whose new appends pass the
// place the subscription had got to while it was away, sent on
// resumption only events past that place, each new to the client, which
// delivered them as the next of the log it had followed: the event it
// had delivered last was gone, and nothing said so. Now each resumption
// asks for that event again and checks it is the one delivered: here it
// is another, and the subscription ends with ErrLogReset, delivering
// nothing of the new log. Against the real handler on both stores, a log
// and a stream subscription, the restore being a swap of the store for
// an older copy of it.
func TestASubscriptionResumedOnALogRestoredFromAnOlderBackupEndsWithErrLogReset(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, kind := range []string{"log", "stream"} {
			t.Run(kind, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				live, backup := handlerOf(t, k.Open(t), time.Second), handlerOf(t, k.Open(t), time.Second)
				var current atomic.Pointer[http.Handler]
				current.Store(&live)
				srv := testServer(t, func(w http.ResponseWriter, r *http.Request) { (*current.Load()).ServeHTTP(w, r) })
				c, restored := newClient(t, srv.URL), serving(t, backup.ServeHTTP)

				// The backup holds the stream's first two events; the live
				// log has two more since.
				stream := StreamRef{ID: uuid.New(), Type: "order"}
				first := []NewEvent{{ID: uuid.New(), Type: "A", Data: 1}, {ID: uuid.New(), Type: "A", Data: 2}}
				for _, to := range []*Client{c, restored} {
					if _, err := to.Append(ctx, stream, NoStream, first...); err != nil {
						t.Fatalf("Append the first events: %v", err)
					}
				}
				if _, err := c.Append(ctx, stream, Exactly(2), NewEvent{Type: "B", Data: 3}, NewEvent{Type: "B", Data: 4}); err != nil {
					t.Fatalf("Append the live log's events: %v", err)
				}

				opts := SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
				if kind == "stream" {
					opts.StreamID = stream.ID
				}
				var delivered []string
				swapped := false
				var end error
				for m, err := range c.Subscribe(ctx, opts) {
					if err != nil {
						end = err
						break
					}
					if m.CaughtUp {
						if swapped {
							break
						}
						// Restored from the backup while the client is away,
						// and three events appended since: the log passes
						// where the subscription had got to.
						if _, err := restored.Append(ctx, stream, Exactly(2),
							NewEvent{Type: "C", Data: 5}, NewEvent{Type: "C", Data: 6}, NewEvent{Type: "C", Data: 7}); err != nil {
							t.Fatalf("Append to the restored log: %v", err)
						}
						current.Store(&backup)
						live.(interface{ CloseSubscriptions() }).CloseSubscriptions() // the server it was restored on went away
						swapped = true
						continue
					}
					delivered = append(delivered, m.Event.Type)
					if swapped {
						t.Fatalf("after the restore the subscription delivered event %s at version %d, position %d, as new (all delivered: %v); expected ErrLogReset: the last event it delivered is not in the restored log",
							m.Event.ID, m.Event.Version, m.Event.Position, delivered)
					}
				}
				if !errors.Is(end, ErrLogReset) {
					t.Fatalf("the subscription delivered %v, then ended with %v; expected ErrLogReset once resumed on the restored log", delivered, end)
				}
				if len(delivered) != 4 {
					t.Errorf("the subscription delivered %v before the restore; expected the live log's four events", delivered)
				}
			})
		}
	})
}

// TestASubscriptionEndsWhenAResumptionIsCaughtUpWithoutTheEventDeliveredLast:
// a resumption asks again for the event delivered last; a server caught up
// at its place without sending it no longer holds it (a log restored from
// a backup that has a hole there), and the subscription ends with
// ErrLogReset rather than go on from a log it did not follow.
func TestASubscriptionEndsWhenAResumptionIsCaughtUpWithoutTheEventDeliveredLast(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	var asked atomic.Value
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		startEventStream(w)
		if conns.Add(1) == 1 {
			io.WriteString(w, "id: 1\ndata: "+sseEvent(1)+"\n\nid: 2\ndata: "+sseEvent(2)+"\n\n") //nolint:errcheck // a test's answer
			return
		}
		asked.Store(r.Header.Get("Last-Event-ID"))
		io.WriteString(w, "event: caught-up\ndata: 2\n\n") //nolint:errcheck // a test's answer
	})
	msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 0)
	if len(msgs) != 2 || !errors.Is(last, ErrLogReset) || asked.Load() != "1" {
		t.Errorf("received %v, then %v, the resumption asking after %q; expected events 1 and 2, then ErrLogReset at a resumption after 1 caught up without event 2", positions(msgs), last, asked.Load())
	}
}

package mysqlstore_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/faultproxy"
	"github.com/tributary-dev/tributary/internal/mysqlstore"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestATailReadWhoseAnswerGoesSilentMidwayEndsAtItsBound: a connection
// black-holed midway through an answer (a proxy that forwards part of a
// result and then nothing, neither side closed: no FIN, no reset) held the
// live feed's read of the head, or of a page of the log, in its socket read
// past the read's bound: the feed stopped polling, and every subscription
// got nothing. Each read ends by its context's deadline now, with an error
// the feed retries, and the next read, on a fresh connection, is answered.
func TestATailReadWhoseAnswerGoesSilentMidwayEndsAtItsBound(t *testing.T) {
	t.Parallel()
	for _, prepared := range []bool{false, true} {
		t.Run(map[bool]string{false: "interpolated", true: "prepared"}[prepared], func(t *testing.T) {
			t.Parallel()
			dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
			if prepared {
				// database/sql prepares each statement with arguments.
				dsn += map[bool]string{false: "?", true: "&"}[strings.Contains(dsn, "?")] + "interpolateParams=false"
			}
			tailStallsMidway(t, teststore.OpenMySQL(t, dsn), proxy)
		})
	}
}

func tailStallsMidway(t *testing.T, s *mysqlstore.Store, proxy *faultproxy.Proxy) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	const typ = "feedStallMid"
	// 1.5 MiB: a page of the log stops at its first MiB (a chunk), and
	// the driver reads the rest of the answer as its rows are closed.
	evs := make([]eventstore.NewEvent, 15)
	for i := range evs {
		evs[i] = eventstore.NewEvent{Type: "stalled", Data: fmt.Appendf(nil, `{"n":%d,"pad":%q}`, i+1, strings.Repeat("x", 100<<10))}
	}
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: uuid.New(), StreamType: typ, Expected: eventstore.NoStream, Events: evs}); err != nil {
		t.Fatalf("append: %v", err)
	}
	has := func(word string) func([]byte) bool {
		return func(chunk []byte) bool { return bytes.Contains(chunk, []byte(word)) }
	}
	tail := s.Tail()
	for _, c := range []struct {
		name  string
		match func([]byte) bool
		after int
		read  func(ctx context.Context) error
	}{
		{"the head, in its columns", has("FROM log_head h WHERE h.id = 1"), 20, func(ctx context.Context) error {
			_, err := tail.Head(ctx)
			return err
		}},
		// Its row read, the end of its answer (219 bytes in all) not: the
		// driver reads that end as the row's rows are closed.
		{"the head, before the end of its answer", has("FROM log_head h WHERE h.id = 1"), 215, func(ctx context.Context) error {
			_, err := tail.Head(ctx)
			return err
		}},
		{"a page of the log, in its rows", has("FROM log_head WHERE id = 1) FROM events WHERE"), 300 << 10, func(ctx context.Context) error {
			_, err := tail.ReadAll(ctx, eventstore.ReadAllOptions{})
			return err
		}},
		{"a page of the log, past the chunk it keeps", has("FROM log_head WHERE id = 1) FROM events WHERE"), 1300 << 10, func(ctx context.Context) error {
			_, err := tail.ReadAll(ctx, eventstore.ReadAllOptions{})
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 60*time.Second) // a hang's, not a time asserted
			defer cancel()
			silent := proxy.StallAnswerAfter(c.match, c.after)
			// The read's bound, short: the caller's deadline, which the
			// read's own (30 s) keeps.
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			defer rcancel()
			ended := make(chan error, 1)
			go func() { ended <- c.read(rctx) }()
			select {
			case <-silent:
			case err := <-ended:
				t.Fatalf("the read was answered (%v) before its answer went silent: the test's match is wrong", err)
			}
			// It may end answered (what it needs came before the
			// silence), or failed: not held.
			select {
			case err := <-ended:
				t.Logf("the read whose answer went silent ended: %v", err)
			case <-ctx.Done():
				t.Fatalf("a read whose answer went silent midway was still in its socket read long past its bound")
			}
			if err := c.read(ctx); err != nil {
				t.Errorf("the read after one that went silent: %v; want it answered on a fresh connection", err)
			}
		})
	}
}

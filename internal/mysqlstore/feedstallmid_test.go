package mysqlstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheLiveFeedPollsAgainAfterItsReadOfTheHeadGoesSilent: the live feed's
// read of the head, on a connection black-holed at the end of its answer,
// held the feed for good (TestATailReadWhoseAnswerGoesSilentMidwayEndsAtItsBound):
// a subscription got no event written after. The read ends at its bound
// (30 s), and the feed's next poll, on a fresh connection, hands the event on.
func TestTheLiveFeedPollsAgainAfterItsReadOfTheHeadGoesSilent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang's, not a time asserted
	defer cancel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	s := teststore.OpenMySQL(t, dsn)
	logged := &testlog.Buffer{}
	f := fanout.New(s, fanout.Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logged, nil))})
	feedCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { f.Run(feedCtx); close(stopped) }()
	t.Cleanup(func() { stop(); <-stopped })

	// With no subscription open the feed follows the head: its read is
	// the next to go, and its answer (219 bytes) goes silent before its end.
	silent := proxy.StallAnswerAfter(func(chunk []byte) bool {
		return bytes.Contains(chunk, []byte("FROM log_head h WHERE h.id = 1"))
	}, 215)
	select {
	case <-silent:
	case <-ctx.Done():
		t.Fatal("the feed's read of the head never went silent: the test's match is wrong")
	}
	sub := f.Subscribe(eventstore.SubscribeOptions{})
	defer sub.Close()
	id := uuid.New()
	if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "T", Expected: eventstore.NoStream,
		Events: []eventstore.NewEvent{{Type: "AfterTheSilence", Data: []byte(`{}`)}}}); err != nil {
		t.Fatalf("append: %v", err)
	}
	for got := false; !got; {
		if err := sub.Next(ctx, func(d eventstore.Delivery) error {
			got = got || d.Event != nil && d.Event.StreamID == id
			return nil
		}); err != nil {
			t.Fatalf("the subscription: %v", err)
		}
		if got {
			break
		}
		select {
		case <-sub.Ready():
		case <-ctx.Done():
			t.Fatalf("the subscription got no event written after the feed's read of the head went silent: the feed is held. The log:\n%s", logged)
		}
	}
}

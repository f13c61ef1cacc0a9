package fanout_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheFeedLogsADamagedDatabaseFoundDuringAnOutage: the feed logged the
// first failure of a spell of failed polls only: a database found missing
// or damaged while the polls already failed for an outage (the server
// back, its tables restored wrong) ended every subscription, each poll,
// and the log said only "cannot read new events". It is logged once now,
// and the recovery once. On both stores.
func TestTheFeedLogsADamagedDatabaseFoundDuringAnOutage(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		q := &quotingStore{Store: k.Open(t)}
		logged := &testlog.Buffer{}
		f := runFeed(t, q, fanout.Options{PollInterval: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logged, nil))})
		until := func(line string) {
			t.Helper()
			waitFor(t, 30*time.Second, "the feed to log "+line, func() bool { return strings.Contains(logged.String(), line) })
		}
		c, _ := subscribe(t, f, eventstore.SubscribeOptions{}, 0)
		waitFor(t, 30*time.Second, "the feed to start (a subscription caught up)", func() bool { _, cu, _, _ := c.snapshot(); return len(cu) == 1 })
		failWith(&q.tail, fmt.Errorf("a poll: %w", eventstore.ErrUnavailable))
		until("cannot read new events")
		failWith(&q.tail, fmt.Errorf("a poll: %w", eventstore.ErrDamaged))
		until("the database is missing or damaged")
		failWith(&q.tail, nil)
		until("reading new events again")
		out := logged.String()
		if n := strings.Count(out, "the database is missing or damaged"); n != 1 {
			t.Errorf("the damage logged %d times; want once:\n%s", n, out)
		}
		if n := strings.Count(out, "reading new events again"); n != 1 {
			t.Errorf("the recovery logged %d times; want once:\n%s", n, out)
		}
	})
}

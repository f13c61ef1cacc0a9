package fanout_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// unreachableTail is a log whose head cannot be read: each read of it is
// sent on tries as it begins.
type unreachableTail struct {
	eventstore.LogTail
	tries chan<- struct{}
}

func (u unreachableTail) Head(ctx context.Context) (int64, error) {
	select {
	case u.tries <- struct{}{}:
	case <-ctx.Done(): // the feed stops
	}
	return 0, errors.New("the database is out of reach")
}

type unreachableStore struct {
	eventstore.Store
	tries chan<- struct{}
}

func (u unreachableStore) Tail() eventstore.LogTail { return unreachableTail{u.Store.Tail(), u.tries} }

// pollFailures reads tributary_feed_poll_failures_total from m.
func pollFailures(t *testing.T, m *metrics.Metrics) int {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "tributary_feed_poll_failures_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %q: %v", line, err)
			}
			return int(n)
		}
	}
	t.Fatal("no tributary_feed_poll_failures_total in /metrics")
	return 0
}

// TestPollsThatFailBeforeTheFeedIsReadyAreCounted: a feed that starts with
// the database out of reach retries its first read of the head, and
// tributary_feed_poll_failures_total did not count those failures: it
// stayed at 0 for as long as the feed could not start, the outage an
// operator most needs to see. Each failed try is counted. On both stores.
func TestPollsThatFailBeforeTheFeedIsReadyAreCounted(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		tries := make(chan struct{})
		m := metrics.New("test")
		runFeed(t, unreachableStore{k.Open(t), tries}, fanout.Options{PollInterval: time.Millisecond, Metrics: m})
		const failed = 3
		for range failed + 1 { // the tries after the first three: those three were handled
			<-tries
		}
		if n := pollFailures(t, m); n < failed {
			t.Errorf("tributary_feed_poll_failures_total is %d after %d failed reads of the head before the feed was ready; want at least %d", n, failed, failed)
		}
	})
}

package fanout_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// heldPages is a store whose tailer's first read of a page past position 1
// is held until released, and which notes when its read of the page
// holding position 1 alone returned: a poll reading a backlog page after
// page, between its first page and its end.
type heldPages struct {
	fanout.Store
	mu        sync.Mutex
	firstRead time.Time // when the page of position 1 alone was read
	hold      sync.Once
	held      chan struct{}
	release   chan struct{}
}

func (s *heldPages) Tail() eventstore.LogTail { return heldPagesTail{s.Store.Tail(), s} }

type heldPagesTail struct {
	eventstore.LogTail
	s *heldPages
}

func (t heldPagesTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	page, err := t.LogTail.ReadAll(ctx, opts)
	if err != nil || page.Last < 1 {
		return page, err
	}
	if page.Last == 1 {
		t.s.mu.Lock()
		t.s.firstRead = time.Now()
		t.s.mu.Unlock()
		return page, err
	}
	var err2 error
	t.s.hold.Do(func() {
		close(t.s.held)
		select {
		case <-t.s.release:
		case <-ctx.Done():
			err2 = ctx.Err()
		}
	})
	if err2 != nil {
		return eventstore.LogPage{}, err2
	}
	return page, err
}

// TestLastPollMovesWithEachPageOfALongPoll: LastPoll moved only when a
// poll ended, after its last page: a poll reading a long backlog (a bulk
// import, another instance's burst), page after page and handing each out,
// kept it where it was before the poll began, and past 30 s /readyz said
// the live feed had stalled (WARN logged) while it delivered. Each page
// read and handed out is now a good read of the log.
func TestLastPollMovesWithEachPageOfALongPoll(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		feed, firstRead := pollHeldAtItsSecondPage(t, k, nil)
		if last := feed.LastPoll(); firstRead.IsZero() || !last.After(firstRead) {
			t.Errorf("LastPoll with a poll's first page read (%s) and handed out, its second held: %s; want it after the first page's read",
				firstRead, last)
		}
	})
}

// pollHeldAtItsSecondPage runs a feed of k's store, reporting to m (nil:
// none), whose poll of three new events, a page each, has read and handed
// out its first page and is held at its second; it returns the feed and
// when that first page was read.
func pollHeldAtItsSecondPage(t *testing.T, k teststore.Kind, m *metrics.Metrics) (*fanout.Feed, time.Time) {
	t.Helper()
	inner := k.Open(t)
	store := &heldPages{Store: inner, held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(func() { close(store.release) }) // after the feed's stop: it is held no longer
	// Subscribed before the tailer runs: it polls from its start, and
	// never follows the head without reading (no subscription), which
	// would skip the append's first page.
	feed := fanout.New(store, fanout.Options{PollInterval: time.Hour, PageSize: 1, Metrics: m})
	subscribe(t, feed, eventstore.SubscribeOptions{}, 0)
	made := feed.LastPoll()
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { feed.Run(ctx); close(ran) }()
	t.Cleanup(func() { stop(); <-ran })
	// Started on the empty log, not on the append's head.
	untilSettled(t, "the feed to start", func() bool { return feed.LastPoll().After(made) })
	appendN(t, inner, uuid.New(), "held", 3)
	feed.Notify()
	<-store.held // the poll's first page read, its second held
	store.mu.Lock()
	defer store.mu.Unlock()
	return feed, store.firstRead
}

// lastPollGauge reads tributary_feed_last_poll_timestamp_seconds from m.
func lastPollGauge(t *testing.T, m *metrics.Metrics) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "tributary_feed_last_poll_timestamp_seconds "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %q: %v", line, err)
			}
			return f
		}
	}
	t.Fatal("no tributary_feed_last_poll_timestamp_seconds in /metrics")
	return 0
}

// TestLastPollGaugeMovesWithEachPageOfALongPoll: the gauge
// tributary_feed_last_poll_timestamp_seconds moved only when a poll ended,
// after its last page, though LastPoll moved at each: a poll reading a
// long backlog page after page and handing each out kept it where it was
// before the poll began, and README's alert on time() minus it fired while
// the feed delivered. Each page read and handed out now moves it too.
func TestLastPollGaugeMovesWithEachPageOfALongPoll(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		m := metrics.New("test")
		_, firstRead := pollHeldAtItsSecondPage(t, k, m)
		if firstRead.IsZero() {
			t.Fatal("the poll's first page was not read before its second was held")
		}
		want := float64(firstRead.UnixNano()) / 1e9
		if got := lastPollGauge(t, m); got < want {
			t.Errorf("tributary_feed_last_poll_timestamp_seconds with a poll's first page read (%.6f) and handed out, its second held: %.6f; want it at or after the first page's read",
				want, got)
		}
	})
}

package fanout_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// tailStatements are the kinds of statement the tailer's reads of the log
// may make (tributary_db_statements_total), durability's fence among them.
var tailStatements = []string{"read_events", "read_event_id", "read_head", "read_positions", "read_visible", "fence"}

// statementsOfTheTail sums the statements of tailStatements' kinds m counted.
func statementsOfTheTail(t *testing.T, m *metrics.Metrics) int {
	t.Helper()
	n := 0
	for _, kind := range tailStatements {
		n += teststore.Statements(t, m, kind)
	}
	return n
}

// polls returns how many polls of the feed's tailer m counted (those that
// passed: tributary_feed_poll_duration_seconds' count).
func polls(t *testing.T, m *metrics.Metrics) int {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "tributary_feed_poll_duration_seconds_count "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("metric %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// idlePollStatements runs a feed over a store that counts its statements,
// with the log's head at an event of data bytes and one subscriber caught
// up, and returns the statements of five polls with nothing new, and the
// bytes of events the tailer read in them. The tailer polls only when the
// test wakes it (its interval is an hour), and the test waits for each
// poll to pass before the next: the count is the polls', not a clock's.
func idlePollStatements(t *testing.T, k teststore.Kind, data int) (statements int, read int64) {
	t.Helper()
	m := metrics.New("test")
	store := teststore.OpenCounted(t, k, m)
	reads, bytes := &atomic.Int64{}, &atomic.Int64{}
	f := runFeed(t, byteCountingStore{store, reads, bytes}, fanout.Options{PollInterval: time.Hour, Metrics: m})
	c := subscribeCaughtUp(t, f, "the subscriber")
	head := eventstore.NewEvent{Type: "Head", Data: []byte(`"` + strings.Repeat("x", data-2) + `"`)}
	if _, err := f.Notifying(store).Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "head",
		Events: []eventstore.NewEvent{head}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the subscriber to get the event at the head", func() bool { return c.restedAt(1) })
	// A poll of the subscriber's start's wake-up may still be pending: one
	// more passed, and none is.
	p := polls(t, m)
	f.Notify()
	waitFor(t, 30*time.Second, "a poll of the tailer", func() bool { return polls(t, m) > p })
	before, read0 := statementsOfTheTail(t, m), bytes.Load()
	for range 5 {
		p := polls(t, m)
		f.Notify()
		waitFor(t, 30*time.Second, "a poll of the tailer", func() bool { return polls(t, m) > p })
	}
	return statementsOfTheTail(t, m) - before, bytes.Load() - read0
}

// TestAnIdlePollIsOneStatementUnderASmallHeadEvent: to see that the log
// did not go back under it, the tailer checks at each poll that the event
// at its head is still the one it handed out. It read that event's id with
// a statement of its own (LogTail.IDAt), after each read of the log past
// the head: an idle feed with a subscriber made two statements a poll, 20
// a second at the default interval, where it had made one. Under an event
// of a few KiB, the usual, the poll reads the log from the head's event
// on, and checks it there: one statement. Under an event of 1 MiB it still
// reads none of its data, by its id alone: two. On both stores.
func TestAnIdlePollIsOneStatementUnderASmallHeadEvent(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		t.Run("small head", func(t *testing.T) {
			t.Parallel()
			if n, _ := idlePollStatements(t, k, 100); n != 5 {
				t.Errorf("five idle polls under an event of 100 bytes at the head made %d statements; want 5, one a poll", n)
			}
		})
		t.Run("large head", func(t *testing.T) {
			t.Parallel()
			n, read := idlePollStatements(t, k, 1<<20)
			if n != 10 {
				t.Errorf("five idle polls under an event of 1 MiB at the head made %d statements; want 10: a read past the head and its id", n)
			}
			if read != 0 {
				t.Errorf("five idle polls under an event of 1 MiB at the head read %d bytes of events; want none", read)
			}
		})
	})
}

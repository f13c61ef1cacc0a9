package fanout_test

import (
	"context"
	"fmt"
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
// may make (tributary_db_statements_total), durability's fence among them,
// and those of every other read the feed's Store offers (EventPosition,
// Stream): an idle poll that made one of those was not counted.
var tailStatements = []string{"read_events", "read_event_id", "read_head", "read_positions", "read_visible", "fence",
	"read_event_position", "read_stream"}

// tailCount is the statements m counted of each of tailStatements' kinds.
type tailCount map[string]int

// statementsOfTheTail returns the statements of tailStatements' kinds m
// counted, by kind.
func statementsOfTheTail(t *testing.T, m *metrics.Metrics) tailCount {
	t.Helper()
	n := tailCount{}
	for _, kind := range tailStatements {
		n[kind] = teststore.Statements(t, m, kind)
	}
	return n
}

// since returns the statements of each kind counted after before was.
func (c tailCount) since(before tailCount) tailCount {
	d := tailCount{}
	for kind, n := range c {
		d[kind] = n - before[kind]
	}
	return d
}

// total sums the statements of every kind.
func (c tailCount) total() int {
	n := 0
	for _, k := range c {
		n += k
	}
	return n
}

// String names the count of each kind, in tailStatements' order, those
// with none left out.
func (c tailCount) String() string {
	var out []string
	for _, kind := range tailStatements {
		if c[kind] != 0 {
			out = append(out, fmt.Sprintf("%s %d", kind, c[kind]))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
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

// pollGate, once shut, holds each read of the log by the tailer at its
// start, nothing of it sent, until the test lets one through. An idle
// poll begins with that read (Feed.poll): while one waits at the gate, the
// tailer (one goroutine) is between polls, and what the store counted is
// the statements of the polls let through, whole, and no other's.
type pollGate struct {
	shut    atomic.Bool
	arrived atomic.Int64 // the reads that came to the gate shut
	pass    chan struct{}
}

// pollGatedStore's tail waits at gate.
type pollGatedStore struct {
	eventstore.Store
	gate *pollGate
}

func (s pollGatedStore) Tail() eventstore.LogTail { return pollGatedTail{s.Store.Tail(), s.gate} }

type pollGatedTail struct {
	eventstore.LogTail
	gate *pollGate
}

func (g pollGatedTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if g.gate.shut.Load() {
		g.gate.arrived.Add(1)
		select {
		case <-g.gate.pass:
		case <-ctx.Done():
			return eventstore.LogPage{}, ctx.Err()
		}
	}
	return g.LogTail.ReadAll(ctx, opts)
}

// untilAtTheGate waits for the tailer's nth read at the gate shut.
func (g *pollGate) untilAtTheGate(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("read %d of the tailer to reach the gate", n), func() bool { return g.arrived.Load() >= n })
	if got := g.arrived.Load(); got != n {
		t.Fatalf("%d reads of the tailer reached the gate; want %d: a poll read the log more than once", got, n)
	}
}

// idlePollStatements runs a feed over a store that counts its statements,
// with the log's head at an event of data bytes and one subscriber caught
// up, and returns the statements of five polls with nothing new, by kind,
// and the bytes of events the tailer read in them. The tailer polls only
// when the test wakes it (its interval is an hour), and each poll waits at
// a gate before its first statement (pollGate) until the test lets it
// through: the count is taken with the next poll at the gate, and holds
// the five polls' statements whole, and none of a poll the test did not
// let through. (Counted by the polls that passed alone, it took in, under
// load, part of a poll that a wake-up left pending had begun, and counted
// 11 for 10.)
func idlePollStatements(t *testing.T, k teststore.Kind, data int) (statements tailCount, read int64) {
	t.Helper()
	m := metrics.New("test")
	store := teststore.OpenCounted(t, k, m)
	reads, bytes := &atomic.Int64{}, &atomic.Int64{}
	gate := &pollGate{pass: make(chan struct{})}
	f := runFeed(t, pollGatedStore{byteCountingStore(store, reads, bytes), gate}, fanout.Options{PollInterval: time.Hour, Metrics: m})
	c := subscribeCaughtUp(t, f, "the subscriber")
	head := eventstore.NewEvent{Type: "Head", Data: []byte(`"` + strings.Repeat("x", data-2) + `"`)}
	if _, err := f.Notifying(store).Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "head",
		Events: []eventstore.NewEvent{head}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the subscriber to get the event at the head", func() bool { return c.restedAt(1) })
	// A poll that read the event may not have ended yet: the first poll
	// at the gate is begun after it, and the one after that follows a
	// whole idle poll, whose first read sized the head.
	gate.shut.Store(true)
	f.Notify()
	gate.untilAtTheGate(t, 1)
	f.Notify()
	gate.pass <- struct{}{}
	gate.untilAtTheGate(t, 2)
	before, read0, polls0 := statementsOfTheTail(t, m), bytes.Load(), polls(t, m)
	for i := range int64(5) {
		// Woken while it polls: the next poll follows this one.
		f.Notify()
		gate.pass <- struct{}{}
		gate.untilAtTheGate(t, i+3)
	}
	if n := polls(t, m) - polls0; n != 5 {
		t.Fatalf("%d of the five polls let through passed; want all", n)
	}
	return statementsOfTheTail(t, m).since(before), bytes.Load() - read0
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
			if n, _ := idlePollStatements(t, k, 100); n.total() != 5 {
				t.Errorf("five idle polls under an event of 100 bytes at the head made %d statements (%v); want 5, one a poll", n.total(), n)
			}
		})
		t.Run("large head", func(t *testing.T) {
			t.Parallel()
			n, read := idlePollStatements(t, k, 1<<20)
			if n.total() != 10 {
				t.Errorf("five idle polls under an event of 1 MiB at the head made %d statements (%v); want 10: a read past the head and its id", n.total(), n)
			}
			if read != 0 {
				t.Errorf("five idle polls under an event of 1 MiB at the head read %d bytes of events; want none", read)
			}
		})
	})
}

package http

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStandingConditionIsLoggedAgainEachWindowWithTheCountNotLogged: the
// "request failed" line of a standing condition (a full disk) is logged
// once a window (standingLog); the first past the window is logged again,
// at ERROR, saying how many like it were not logged since: through an
// outage of any length the log says it goes on, and how much, without a
// line a request.
func TestAStandingConditionIsLoggedAgainEachWindowWithTheCountNotLogged(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	s := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	var clock atomic.Int64 // seconds past start
	start := time.Now()
	s.standing.now = func() time.Time { return start.Add(time.Duration(clock.Load()) * time.Second) }
	full := fmt.Errorf("append to x: %w: %w: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull)
	fail := func(n int) {
		for range n {
			s.writeError(httptest.NewRecorder(), httptest.NewRequest("POST", "/streams/x/events", nil), full)
		}
	}
	fail(5)         // the first logged, 4 not
	clock.Store(9)  // within the window
	fail(3)         // 3 more not
	clock.Store(10) // the window over
	fail(2)         // the first logged with 7 before it, 1 not
	clock.Store(30) // long after
	fail(1)         // logged with 1 before it
	type line struct {
		Msg, Level, Cause string
		Unlogged          int `json:"unlogged_like_it"`
	}
	var got []line
	for _, l := range strings.Split(logs.String(), "\n") {
		var ln line
		if l != "" && json.Unmarshal([]byte(l), &ln) == nil && ln.Msg == "request failed" {
			got = append(got, ln)
		}
	}
	want := []line{{"request failed", "ERROR", "full", 0}, {"request failed", "ERROR", "full", 7}, {"request failed", "ERROR", "full", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request failed lines through a full disk: %+v; want %+v\n%s", got, want, logs.String())
	}
}

// TestStandingLogKeepsAWindowForAtMostItsBoundOfErrors: each distinct
// error of a standing cause has its own window (standingLog), so many
// damaged streams could each keep one for ever. Past standingKeys the
// oldest is forgotten: every stream's damage is still logged once, the
// windows kept stay bounded, and one forgotten is logged again when met.
func TestStandingLogKeepsAWindowForAtMostItsBoundOfErrors(t *testing.T) {
	t.Parallel()
	var l standingLog
	var clock atomic.Int64 // milliseconds past start
	start := time.Now()
	l.now = func() time.Time { return start.Add(time.Duration(clock.Add(1)) * time.Millisecond) }
	damaged := func(stream uuid.UUID) error {
		return fmt.Errorf("append to %s: %w", uuid.New(), fmt.Errorf("%w: %w: stream %s has events but its row of the table streams is missing",
			eventstore.ErrUnavailable, eventstore.ErrDamaged, stream))
	}
	streams := make([]uuid.UUID, 3*standingKeys)
	for i := range streams {
		streams[i] = uuid.New()
		if log, _ := l.note(metrics.CauseDamaged, damaged(streams[i])); !log {
			t.Fatalf("the damage of stream %d of %d, the first of it, was not logged", i+1, len(streams))
		}
		if log, _ := l.note(metrics.CauseDamaged, damaged(streams[i])); log {
			t.Fatalf("the damage of stream %d of %d, met again at once, was logged again", i+1, len(streams))
		}
	}
	if len(l.keys) > standingKeys {
		t.Errorf("after %d distinct errors, %d windows kept; want at most %d", len(streams), len(l.keys), standingKeys)
	}
	if log, _ := l.note(metrics.CauseDamaged, damaged(streams[0])); !log {
		t.Errorf("the damage of the first stream, its window forgotten, met again: not logged")
	}
	if log, _ := l.note(metrics.CauseDamaged, damaged(streams[len(streams)-1])); log {
		t.Errorf("the damage of the last stream, met again within its window: logged again")
	}
}

// TestStandingKeyTellsErrorsApartByTheirWordsNotTheRequests: the key of a
// standing condition's window is the store's error without the request's
// own context, its numbers made one: the same condition met by any
// request is one error, another damage another.
func TestStandingKeyTellsErrorsApartByTheirWordsNotTheRequests(t *testing.T) {
	t.Parallel()
	x, y := uuid.New(), uuid.New()
	rowMissing := func(prefix string, stream uuid.UUID) error {
		return fmt.Errorf(prefix+"%w", fmt.Errorf("%w: %w: stream %s has events but its row of the table streams is missing",
			eventstore.ErrUnavailable, eventstore.ErrDamaged, stream))
	}
	headBehind := func(head, last int) error {
		return fmt.Errorf("append to %s: %w", uuid.New(), fmt.Errorf("%w: %w: %w: the log's head is at %d, its last event at %d",
			eventstore.ErrUnavailable, eventstore.ErrDamaged, eventstore.ErrHeadBehind, head, last))
	}
	column := &eventstore.MissingError{Column: "events.metadata"}
	for _, c := range []struct {
		what string
		a, b error
		same bool
	}{
		{"one stream's missing row, met by an append and by a read", rowMissing("append to "+uuid.NewString()+": ", x), rowMissing("read stream "+x.String()+": ", x), true},
		{"two streams' missing rows", rowMissing("append to "+x.String()+": ", x), rowMissing("append to "+y.String()+": ", y), false},
		{"two streams' missing rows, ids of digits only", rowMissing("", uuid.MustParse("11111111-1111-4111-8111-111111111111")),
			rowMissing("", uuid.MustParse("22222222-2222-4222-8222-222222222222")), false},
		{"a head behind, by other counts", headBehind(5, 9), headBehind(7, 12), true},
		{"a missing column met by two appends", fmt.Errorf("append to %s: %w", x, column), &appendError{fmt.Errorf("append to %s: %w", y, column)}, true},
		{"a missing column and a missing table", fmt.Errorf("append to %s: %w", x, column), fmt.Errorf("append to %s: %w", x, &eventstore.MissingError{Table: "log_head"}), false},
	} {
		a, b := standingKey("c", c.a), standingKey("c", c.b)
		if (a == b) != c.same {
			t.Errorf("%s: keys %q and %q; want them the same: %v", c.what, a, b, c.same)
		}
	}
}

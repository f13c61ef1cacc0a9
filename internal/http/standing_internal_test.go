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

	"github.com/tributary-dev/tributary/internal/eventstore"
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

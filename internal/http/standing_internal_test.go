package http

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
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
	got := requestFailedLines(logs.String())
	want := []failedLine{{"request failed", "ERROR", "full", 0}, {"request failed", "ERROR", "full", 7}, {"request failed", "ERROR", "full", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request failed lines through a full disk: %+v; want %+v\n%s", got, want, logs.String())
	}
}

// rowMissing is the store's error (sqlstore's streamRowMissing) of a read
// of, or an append to, a stream whose row of streams is missing, in the
// request's context (prefix, with the %s of the stream read or appended).
func rowMissing(prefix string, stream uuid.UUID) error {
	return fmt.Errorf(prefix+": %w", stream, fmt.Errorf("%w: %w: stream %s has events but its row of the table streams is missing (a restore "+
		"from dumps taken apart, or a DELETE by hand): nothing is appended to it or read from it until the row is made again; mend it with "+
		"INSERT INTO streams (stream_id, stream_type, created_at) SELECT e.stream_id, e.stream_type, e.recorded_at FROM events e WHERE "+
		"e.stream_version = 1 AND NOT EXISTS (SELECT 1 FROM streams s WHERE s.stream_id = e.stream_id)",
		eventstore.ErrUnavailable, eventstore.ErrDamaged, stream))
}

// TestOneDamageOverManyStreamsIsLoggedOncePerWindow: the window of a
// standing condition's line was kept per stream, so tables restored from
// dumps taken apart (thousands of streams lacking their row of streams,
// read and appended to by turns) logged a "request failed" line per
// request again, and past 64 streams each new one forgot the oldest's
// window: 1000 lines of 1000 requests over 100 streams (a hostile
// review). The stream is no part of the key: the first line names one
// stream and the statement that mends them all, the next, a window later,
// counts those not logged.
func TestOneDamageOverManyStreamsIsLoggedOncePerWindow(t *testing.T) {
	t.Parallel()
	var l standingLog
	var clock atomic.Int64 // seconds past start
	start := time.Now()
	l.now = func() time.Time { return start.Add(time.Duration(clock.Load()) * time.Second) }
	streams := make([]uuid.UUID, 100)
	for i := range streams {
		streams[i] = uuid.New()
	}
	logged := 0
	for round := range 10 {
		for i, id := range streams {
			prefix := "read stream %s"
			if (round+i)%2 == 0 {
				prefix = "append to %s"
			}
			if log, _ := l.note(metrics.CauseDamaged, rowMissing(prefix, id)); log {
				logged++
			}
		}
	}
	if logged != 1 {
		t.Errorf("1000 requests over 100 streams lacking their row of streams, within one window: %d request failed lines; want 1", logged)
	}
	clock.Store(int64(standingWindow / time.Second))
	if log, unlogged := l.note(metrics.CauseDamaged, rowMissing("read stream %s", uuid.New())); !log || unlogged != 999 {
		t.Errorf("the damage of yet another stream, a window later: logged %v, with %d not logged before it; want logged with 999", log, unlogged)
	}
}

// TestStandingLogPastItsBoundOfErrorsKeepsOneWindowPerCause: each distinct
// error of a standing cause has its own window (standingLog), kept to
// standingKeys of them. Past them, the one logged longest ago was
// forgotten, so errors of more kinds than that, met by turns, were each
// logged every time (a hostile review). A window whose time is over is
// forgotten (its next is logged anyway); past the bound otherwise, the new
// errors of a cause share one window: no window still running is
// forgotten, and a flood of new ones is logged once a window.
func TestStandingLogPastItsBoundOfErrorsKeepsOneWindowPerCause(t *testing.T) {
	t.Parallel()
	var l standingLog
	var clock atomic.Int64 // seconds past start
	start := time.Now()
	l.now = func() time.Time { return start.Add(time.Duration(clock.Load()) * time.Second) }
	// Errors told apart by their words (numbers are made one): tables
	// named by letters.
	table := func(i int) error {
		return fmt.Errorf("append to %s: %w", uuid.New(), &eventstore.MissingError{Table: "t_" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))})
	}
	for i := range standingKeys {
		if log, _ := l.note(metrics.CauseMissing, table(i)); !log {
			t.Fatalf("missing table %d of %d, the first of it, was not logged", i+1, standingKeys)
		}
	}
	logged := 0
	for range 10 {
		for i := standingKeys; i < 3*standingKeys; i++ {
			if log, _ := l.note(metrics.CauseMissing, table(i)); log {
				logged++
			}
		}
	}
	if logged != 1 {
		t.Errorf("%d errors of %d kinds past the bound, within one window: %d request failed lines; want 1 (one window for the cause)", 20*standingKeys, 2*standingKeys, logged)
	}
	for i := range standingKeys {
		if log, _ := l.note(metrics.CauseMissing, table(i)); log {
			t.Fatalf("missing table %d, met again within its window after the flood: logged again (its window forgotten)", i+1)
		}
	}
	if n := len(l.keys); n > standingKeys+len(standingCauses) {
		t.Errorf("after %d distinct errors, %d windows kept; want at most %d", 3*standingKeys, n, standingKeys+len(standingCauses))
	}
	clock.Store(int64(2 * standingWindow / time.Second))
	// Every window over: they are forgotten to make room, and two new
	// errors each have their own.
	for _, i := range []int{5 * standingKeys, 5*standingKeys + 1} {
		if log, _ := l.note(metrics.CauseMissing, table(i)); !log {
			t.Errorf("a new missing table, every window over: not logged (no room made for its own window)")
		}
	}
}

// TestStandingKeyTellsErrorsApartByTheirWordsNotTheRequests: the key of a
// standing condition's window is the store's error without the request's
// own context, its numbers and ids made one: the same condition met by
// any request is one error, another damage another. Two streams' missing
// rows are one condition (one statement mends them all): their errors
// are merged on purpose (TestOneDamageOverManyStreamsIsLoggedOncePerWindow).
func TestStandingKeyTellsErrorsApartByTheirWordsNotTheRequests(t *testing.T) {
	t.Parallel()
	x, y := uuid.New(), uuid.New()
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
		{"one stream's missing row, met by an append and by a read", rowMissing("append to %s", x), rowMissing("read stream %s", x), true},
		{"two streams' missing rows: one condition", rowMissing("append to %s", x), rowMissing("append to %s", y), true},
		{"two streams' missing rows, ids of digits only", rowMissing("append to %s", uuid.MustParse("11111111-1111-4111-8111-111111111111")),
			rowMissing("read stream %s", uuid.MustParse("22222222-2222-4222-8222-222222222222")), true},
		{"a missing row and a head behind", rowMissing("append to %s", x), headBehind(5, 9), false},
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

// writingStore fails every append with the error last set, and writes it
// (as a stream's first events) while that is nil.
type writingStore struct {
	eventstore.Store // nil: only Append is called
	err              atomic.Pointer[error]
}

func (s *writingStore) Append(_ context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	if err := *s.err.Load(); err != nil {
		return eventstore.AppendResult{}, err
	}
	res := eventstore.AppendResult{StreamID: req.StreamID, StreamType: req.StreamType, Version: int64(len(req.Events))}
	for i := range req.Events {
		res.Events = append(res.Events, eventstore.RecordedEvent{ID: uuid.New(), Version: int64(i + 1), Position: int64(i + 1), RecordedAt: time.Now()})
	}
	return res, nil
}

// TestAStandingConditionMetAgainAfterAnAppendWrittenIsLoggedAtOnce: the
// window of a standing condition's "request failed" line did not end with
// the condition: a full disk, freed (an append written), full again within
// 10 s, had its new episode's first error hidden (a hostile review). An
// append written ends the window of each condition that refuses every
// append; the line logged then counts those not logged before it. No
// sooner than a second after the last line, though (a disk where appends
// pass and fail by turns), and a damaged stream's window goes on: an
// append to another proves nothing of it.
func TestAStandingConditionMetAgainAfterAnAppendWrittenIsLoggedAtOnce(t *testing.T) {
	t.Parallel()
	s, store, logs, clock := standingOnWritingStore()
	appendAll := func(at time.Duration, err error, n, want int) {
		t.Helper()
		clock.Store(at.Milliseconds())
		store.err.Store(&err)
		for range n {
			w := appendToNewStream(s)
			if w.Code != want {
				t.Fatalf("an append at %v failing with %v: %d, want %d\n%s", at, err, w.Code, want, w.Body)
			}
		}
	}
	full := fmt.Errorf("%w: %w: write /data/tributary.db-wal: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull)
	damaged := fmt.Errorf("%w: %w: stream %s has events but its row of the table streams is missing", eventstore.ErrUnavailable, eventstore.ErrDamaged, uuid.New())
	appendAll(0, full, 3, 503)                     // logged, 2 not
	appendAll(0, damaged, 2, 503)                  // logged, 1 not
	appendAll(500*time.Millisecond, nil, 1, 201)   // the disk freed
	appendAll(600*time.Millisecond, full, 1, 503)  // not: within a second of its line
	appendAll(2*time.Second, full, 2, 503)         // logged with the 3 before it, 1 not
	appendAll(2*time.Second, damaged, 2, 503)      // not: still within its window
	appendAll(2200*time.Millisecond, nil, 1, 201)  // freed again
	appendAll(2500*time.Millisecond, full, 1, 503) // not: within a second of its line
	appendAll(4*time.Second, full, 1, 503)         // logged with the 2 before it
	appendAll(5*time.Second, full, 1, 503)         // not: no append written since

	got := requestFailedLines(logs.String())
	want := []failedLine{{"request failed", "ERROR", "full", 0}, {"request failed", "ERROR", "damaged", 0}, {"request failed", "ERROR", "full", 3},
		{"request failed", "ERROR", "full", 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request failed lines through a full disk, freed and full again: %+v; want %+v\n%s", got, want, logs.String())
	}
}

// TestAnAppendWrittenEndsOnlyTheWindowsOfErrorsAppendsMet: an append
// written ended the window of every error of a cause that refuses every
// append, whatever met it, so a read replica down or refusing the user
// (its reads' errors, unreachable or refused) had its line logged again
// at each append written to the primary, once a second instead of once a
// window (a hostile review). An append written ends only the windows of
// errors an append met: the primary's, which reads may meet too.
func TestAnAppendWrittenEndsOnlyTheWindowsOfErrorsAppendsMet(t *testing.T) {
	t.Parallel()
	s, store, logs, clock := standingOnWritingStore()
	appendOne := func(err error, want int) {
		t.Helper()
		store.err.Store(&err)
		w := appendToNewStream(s)
		if w.Code != want {
			t.Fatalf("an append failing with %v: %d, want %d\n%s", err, w.Code, want, w.Body)
		}
	}
	read := func(err error) {
		s.writeError(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/events", nil), fmt.Errorf("read the log: %w", err))
	}
	replica := fmt.Errorf("the read replica at db2:3306 refuses the user tributary: %w: %w", eventstore.ErrUnavailable, eventstore.ErrRefused)
	primary := fmt.Errorf("the database at db1:3306 refuses the user tributary: %w: %w", eventstore.ErrUnavailable, eventstore.ErrRefused)
	read(replica)           // logged
	read(primary)           // logged
	appendOne(primary, 503) // not: within its window, which an append has now met
	clock.Store(500)
	appendOne(nil, 201) // written to the primary
	clock.Store(2000)
	read(replica) // not: an append written says nothing of the replica
	read(primary) // logged: its condition, met by an append, has ended
	type line struct {
		Msg, Error string
		Unlogged   int `json:"unlogged_like_it"`
	}
	var got []string
	for _, l := range strings.Split(logs.String(), "\n") {
		var ln line
		if l == "" || json.Unmarshal([]byte(l), &ln) != nil || ln.Msg != "request failed" {
			continue
		}
		which := "primary"
		if strings.Contains(ln.Error, "read replica") {
			which = "replica"
		}
		got = append(got, fmt.Sprintf("%s/%d", which, ln.Unlogged))
	}
	if want := []string{"replica/0", "primary/0", "primary/1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request failed lines (error/unlogged_like_it) through a read replica and the primary refusing the user, an append written between: %v; want %v (the replica's not again within its window)\n%s", got, want, logs.String())
	}
}

// failedLine is what a test reads of a "request failed" line.
type failedLine struct {
	Msg, Level, Cause string
	Unlogged          int `json:"unlogged_like_it"`
}

// requestFailedLines returns the "request failed" lines of the JSON log
// logs, in order.
func requestFailedLines(logs string) []failedLine {
	var got []failedLine
	for _, l := range strings.Split(logs, "\n") {
		var ln failedLine
		if l != "" && json.Unmarshal([]byte(l), &ln) == nil && ln.Msg == "request failed" {
			got = append(got, ln)
		}
	}
	return got
}

// standingOnWritingStore is a server on a writingStore, whose log goes to
// logs, its standing log's clock at its start plus clock's milliseconds.
func standingOnWritingStore() (s *Server, store *writingStore, logs *testlog.Buffer, clock *atomic.Int64) {
	logs, store, clock = &testlog.Buffer{}, &writingStore{}, new(atomic.Int64)
	s = New(store, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	start := time.Now()
	s.standing.now = func() time.Time { return start.Add(time.Duration(clock.Load()) * time.Millisecond) }
	return s, store, logs, clock
}

// appendToNewStream sends s an append of one event to a new stream, and
// returns its answer.
func appendToNewStream(s *Server) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/streams/"+uuid.NewString()+"/events", strings.NewReader(`{"stream_type":"a","events":[{"type":"X","data":1}]}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// TestAnAppendWrittenTakesNoLockWhereNoWindowIsToEnd: every append written
// took the standing log's process-wide mutex and walked its windows, which
// were never forgotten in normal operation (a hostile review). Where no
// window is to end, written takes no lock (it returns while a test holds
// the mutex); where one is, it ends it and forgets the windows that are
// over with nothing left to count.
func TestAnAppendWrittenTakesNoLockWhereNoWindowIsToEnd(t *testing.T) {
	t.Parallel()
	var l standingLog
	var clock atomic.Int64 // seconds past start
	start := time.Now()
	l.now = func() time.Time { return start.Add(time.Duration(clock.Load()) * time.Second) }
	writtenWhileLocked := func() bool {
		t.Helper()
		l.mu.Lock()
		defer l.mu.Unlock()
		done := make(chan struct{})
		go func() { l.written(); close(done) }()
		select {
		case <-done:
			return true
		case <-time.After(2 * time.Second): // the lock is held: it waits
			return false
		}
	}
	if !writtenWhileLocked() {
		t.Fatalf("an append written with no window kept took the standing log's lock")
	}
	l.written() // the waiting one above has run by now: none kept

	read := fmt.Errorf("a read: %w: %w", eventstore.ErrUnavailable, eventstore.ErrDamaged)
	l.note(metrics.CauseDamaged, read)
	clock.Store(int64(standingWindow / time.Second))
	full := fmt.Errorf("the disk is full: %w: %w", eventstore.ErrUnavailable, eventstore.ErrFull)
	l.note(metrics.CauseFull, &appendError{full})
	l.written() // ends the full disk's window, and forgets the damage's, over and with nothing not logged
	l.mu.Lock()
	n, ended := len(l.keys), false
	for _, c := range l.keys {
		ended = c.ended
	}
	l.mu.Unlock()
	if n != 1 || !ended {
		t.Errorf("after a write: %d windows kept (ended %v); want the full disk's alone, ended", n, ended)
	}
	if !writtenWhileLocked() {
		t.Errorf("a second append written, its window already ended, took the standing log's lock")
	}
}

package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// switchingStore fails every append with the error last set.
type switchingStore struct {
	eventstore.Store // nil: only Append is called
	err              atomic.Pointer[error]
}

func (s *switchingStore) Append(context.Context, eventstore.AppendRequest) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, *s.err.Load()
}

// logLevels counts the lines of logs by message and level ("request
// failed/ERROR"), and returns the "request failed" lines' errors.
func logLevels(t *testing.T, logs *testlog.Buffer) (map[string]int, []string) {
	t.Helper()
	counts := map[string]int{}
	var failed []string
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Msg, Level, Error string }
		if line == "" || json.Unmarshal([]byte(line), &l) != nil {
			continue
		}
		counts[l.Msg+"/"+l.Level]++
		if l.Msg == "request failed" {
			failed = append(failed, l.Error)
		}
	}
	return counts, failed
}

// TestAStandingOutageIsLoggedOnceNotOncePerRequest: through a standing
// condition of the database (a full disk, unsafe durability settings, an
// address that does not answer), every refused request wrote two ERROR
// lines, "request failed" with the whole error and its access line: 11,622
// lines in 8 s of a full disk, which made the disk fuller (an operator
// tester). The first of each cause is logged as before; the rest, within a
// window, have only their access line, at WARN. A cause not seen before
// is logged at once, whatever came before it, and a failure of no known
// standing kind (the catch-all unavailable, a 500) each time.
func TestAStandingOutageIsLoggedOnceNotOncePerRequest(t *testing.T) {
	t.Parallel()
	store := &switchingStore{}
	logs := &testlog.Buffer{}
	srv, wait := serverWithLog(t, store, logs)
	appendAll := func(err error, n, want int) {
		t.Helper()
		store.err.Store(&err)
		for range n {
			if r := srv.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`); r.status != want {
				t.Fatalf("an append failing with %v: %d, want %d\n%s", err, r.status, want, r.body)
			}
		}
	}
	appendAll(fmt.Errorf("append to x: %w: %w: write /data/tributary.db-wal: no space left on device", eventstore.ErrUnavailable, eventstore.ErrFull), 20, 503)
	appendAll(fmt.Errorf("append to x: %w: %w: innodb_flush_log_at_trx_commit is 2", eventstore.ErrUnavailable, eventstore.ErrNotDurable), 20, 503)
	appendAll(fmt.Errorf("append to x: %w: something new", eventstore.ErrUnavailable), 3, 503)
	appendAll(errors.New("a bug"), 2, 500)
	wait()

	counts, failed := logLevels(t, logs)
	if counts["request failed/ERROR"] != 1+1+3+2 || counts["request failed/WARN"]+counts["request failed/INFO"] != 0 {
		t.Errorf("request failed lines: %v; want 7 at ERROR (the first of each standing cause, each of the others), none at another level\n%s", counts, strings.Join(failed, "\n"))
	}
	if counts["request/ERROR"] != 7 || counts["request/WARN"] != 19+19 {
		t.Errorf("access lines: %v; want 7 at ERROR (as their request failed lines) and 38 at WARN (the standing outage's others)", counts)
	}
	for _, want := range []string{"no space left on device", "innodb_flush_log_at_trx_commit", "something new", "a bug"} {
		found := false
		for _, f := range failed {
			found = found || strings.Contains(f, want)
		}
		if !found {
			t.Errorf("no request failed line says %q: %q", want, failed)
		}
	}
}

// serverWithLog serves store with its log in logs; wait returns once every
// request's handler has returned, its access line logged.
func serverWithLog(t *testing.T, store eventstore.Store, logs *testlog.Buffer) (s *testServer, wait func()) {
	t.Helper()
	h := esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{t: t, url: srv.URL, client: &http.Client{Timeout: 30 * time.Second}, store: store}, func() { waitHandlers(t, h) }
}

// stalled is as the store's stall refusal: a net.Error wrapping
// eventstore.ErrUnavailable, whose text says for how long.
type stalled struct{ since time.Duration }

func (e stalled) Error() string {
	return fmt.Sprintf("%s: the database has not answered for %s: not sent to it", eventstore.ErrUnavailable, e.since)
}
func (e stalled) Unwrap() error   { return eventstore.ErrUnavailable }
func (e stalled) Timeout() bool   { return true }
func (e stalled) Temporary() bool { return true }

// TestADifferentDamageOfTheSameCauseIsLoggedAtOnce: a standing condition's
// "request failed" line was kept to one per cause in 10 s, so a second,
// different damage within them (a missing streams row for stream Y after
// one for stream X, a missing table after a missing column) was never
// logged: a stream's missing row is said nowhere else (a hostile review).
// Each distinct error is logged at once; the same one again, met by
// another request (its own stream in "append to …", another count in its
// words), is not, within the window. Another stream's missing row is the
// same damage (one statement mends every stream's), merged on purpose
// since a later hostile review: a restore that lost thousands of rows
// logged a line a request (TestOneDamageOverManyStreamsIsLoggedOncePerWindow).
func TestADifferentDamageOfTheSameCauseIsLoggedAtOnce(t *testing.T) {
	t.Parallel()
	store := &switchingStore{}
	logs := &testlog.Buffer{}
	srv, wait := serverWithLog(t, store, logs)
	appendFailing := func(err func() error, n int) {
		t.Helper()
		for range n {
			e := err()
			store.err.Store(&e)
			if r := srv.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`); r.status != 503 {
				t.Fatalf("an append failing with %v: %d, want 503\n%s", e, r.status, r.body)
			}
		}
	}
	rowMissing := func(stream uuid.UUID) func() error {
		return func() error {
			return fmt.Errorf("append to %s: %w", uuid.New(), fmt.Errorf("%w: %w: stream %s has events but its row of the table streams is missing",
				eventstore.ErrUnavailable, eventstore.ErrDamaged, stream))
		}
	}
	missing := func(m *eventstore.MissingError) func() error {
		return func() error { return fmt.Errorf("append to %s: %w", uuid.New(), m) }
	}
	var waited atomic.Int64
	stall := func() error {
		return fmt.Errorf("append to %s: %w", uuid.New(), stalled{5*time.Second + time.Duration(waited.Add(1))*100*time.Millisecond})
	}
	x, y := uuid.New(), uuid.New()
	appendFailing(rowMissing(x), 3)
	appendFailing(rowMissing(y), 3)
	appendFailing(rowMissing(x), 2)
	appendFailing(missing(&eventstore.MissingError{Column: "events.metadata"}), 3)
	appendFailing(missing(&eventstore.MissingError{Table: "log_head"}), 3)
	appendFailing(stall, 4)
	wait()

	counts, failed := logLevels(t, logs)
	if counts["request failed/ERROR"] != 4 || counts["request failed/WARN"]+counts["request failed/INFO"] != 0 {
		t.Errorf("request failed lines: %v; want 4 at ERROR (the first of each distinct error, the streams' missing rows one), none at another level\n%s", counts, strings.Join(failed, "\n"))
	}
	if counts["request/ERROR"] != 4 || counts["request/WARN"] != 18-4 {
		t.Errorf("access lines: %v; want 4 at ERROR (as their request failed lines) and 14 at WARN (the same errors again)", counts)
	}
	for _, want := range []string{"stream " + x.String() + " has events", "column events.metadata", "table log_head", "has not answered"} {
		found := false
		for _, f := range failed {
			found = found || strings.Contains(f, want)
		}
		if !found {
			t.Errorf("no request failed line says %q: %q", want, failed)
		}
	}
}

package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/sqlitestore"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// storeErrors returns tributary_store_errors_total by cause, as served.
func storeErrors(t *testing.T, s *testServer) map[string]float64 {
	t.Helper()
	f := scrapeFamilies(t, s)["tributary_store_errors_total"]
	if f == nil {
		t.Fatal("GET /metrics serves no tributary_store_errors_total")
	}
	out := map[string]float64{}
	for _, c := range metrics.StoreErrorCauses {
		v, ok := counterValue(f, map[string]string{"cause": c})
		if !ok {
			t.Errorf("tributary_store_errors_total has no series for cause %q: every cause shows from the start", c)
		}
		out[c] = v
	}
	if n := len(f.GetMetric()); n != len(metrics.StoreErrorCauses) {
		t.Errorf("tributary_store_errors_total has %d series, want one for each of the %d causes", n, len(metrics.StoreErrorCauses))
	}
	return out
}

// expectCounted checks that before and after differ by one request of
// cause, and by nothing else.
func expectCounted(t *testing.T, what string, before, after map[string]float64, cause string) {
	t.Helper()
	for _, c := range metrics.StoreErrorCauses {
		want := before[c]
		if c == cause {
			want++
		}
		if after[c] != want {
			t.Errorf("%s: tributary_store_errors_total{cause=%q} went from %v to %v, want %v (the error counted under %q)",
				what, c, before[c], after[c], want, cause)
		}
	}
}

// TestEachStoreErrorIsCountedByItsCause: every 503 for the database was
// one series, tributary_http_requests_total{code="503"}, the same for a
// dead database, a full disk, an overwritten file and the subscriber
// limit, and an append whose outcome is unknown, the one an operator must
// reconcile, was not told apart (a black-box operator test). Each 503 from
// the database is now counted by its cause, one of a fixed few; a 503 of
// a limit or of the shutdown delay is no store error. The errors are the
// stores' own, as unavailable_test.go's.
func TestEachStoreErrorIsCountedByItsCause(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	appendBody := `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	for _, tc := range []struct {
		name, cause string
		err         error
		append      bool // the error is an append's
	}{
		{"a database out of reach", metrics.CauseUnreachable, fmt.Errorf("read: %w: %w", eventstore.ErrUnavailable, refused), false},
		{"a request out of time", metrics.CauseTimeout, fmt.Errorf("read: %w", context.DeadlineExceeded), false},
		{"an append that waited for the write lock", metrics.CauseTimeout,
			fmt.Errorf("append to x: %w: the write lock was not free within the request's time (%w)", eventstore.ErrUnavailable, context.DeadlineExceeded), true},
		{"a full database", metrics.CauseFull,
			fmt.Errorf("append to x: %w: %w: Error 1114 (HY000): The table 'events' is full", eventstore.ErrUnavailable, eventstore.ErrFull), true},
		{"a damaged file", metrics.CauseDamaged,
			fmt.Errorf("read: %w: %w: /data/tributary.db (database disk image is malformed)", eventstore.ErrUnavailable, eventstore.ErrDamaged), false},
		{"a file overwritten", metrics.CauseOverwritten,
			fmt.Errorf("append to x: %w: %w", eventstore.ErrUnavailable, eventstore.ErrOverwritten), true},
		{"the embedded file's WAL removed", metrics.CauseRestartNeeded,
			fmt.Errorf("append to x: %w: %w: tributary.db-wal was removed", eventstore.ErrUnavailable, eventstore.ErrRestartNeeded), true},
		{"the embedded file's WAL removed, a read", metrics.CauseRestartNeeded,
			fmt.Errorf("read: %w: %w", eventstore.ErrUnavailable, eventstore.ErrRestartNeeded), false},
		{"unsafe durability settings", metrics.CauseNotDurable,
			fmt.Errorf("append to x: %w: %w: innodb_flush_log_at_trx_commit is 2", eventstore.ErrUnavailable, eventstore.ErrNotDurable), true},
		{"a COMMIT whose answer was lost", metrics.CauseOutcomeUnknown,
			fmt.Errorf("append to x: %w: %w: the round trip with COMMIT was lost: %w", eventstore.ErrUnavailable, eventstore.ErrOutcomeUnknown, refused), true},
		{"a retry whose durability was not confirmed", metrics.CauseOutcomeUnknown,
			fmt.Errorf("append to x: %w: %w", eventstore.ErrOutcomeUnknown,
				fmt.Errorf("%w: %w: wait for durability: %w", eventstore.ErrUnavailable, eventstore.ErrDurabilityUnconfirmed, context.DeadlineExceeded)), true},
		{"the embedded store's storage failed", metrics.CauseStorageFailed,
			fmt.Errorf("append to x: %w: %w: the file system of the database's files failed a write", eventstore.ErrUnavailable, eventstore.ErrStorageFailed), true},
		{"the embedded store's storage failed as an append committed", metrics.CauseOutcomeUnknown,
			fmt.Errorf("append to x: %w: %w: %w", eventstore.ErrUnavailable, eventstore.ErrOutcomeUnknown, eventstore.ErrStorageFailed), true},
		{"a table dropped", metrics.CauseMissing,
			fmt.Errorf("read: %w", &eventstore.MissingError{Table: "events", Err: errors.New("Error 1146 (42S02): Table 'x.events' doesn't exist")}), false},
		{"a read replica serving another log", metrics.CauseReplicaOtherLog,
			fmt.Errorf("read: %w: %w: at position 3 it holds another event than the primary", eventstore.ErrUnavailable, eventstore.ErrReplicaOtherLog), false},
		{"a database refusing writes", metrics.CauseUnavailable,
			fmt.Errorf("append to x: %w: the database refuses writes (read-only): Error 1290", eventstore.ErrUnavailable), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := metricsServer(t, failingStore{err: tc.err}, esthttp.Options{})
			before := storeErrors(t, s)
			var r response
			if tc.append {
				r = s.do(http.MethodPost, "/streams/"+uuid.NewString()+"/events", appendBody)
			} else {
				r = s.do(http.MethodGet, "/events", "")
			}
			if r.status != http.StatusServiceUnavailable {
				t.Fatalf("%s: %d, want 503\n%s", tc.name, r.status, r.body)
			}
			expectCounted(t, tc.name, before, storeErrors(t, s), tc.cause)
		})
	}

	// Answers that are no store's error count nothing.
	s := metricsServer(t, failingStore{err: eventstore.ErrStreamNotFound}, esthttp.Options{})
	before := storeErrors(t, s)
	if r := s.do(http.MethodGet, "/streams/"+uuid.NewString(), ""); r.status != http.StatusNotFound {
		t.Fatalf("a stream not found: %d, want 404", r.status)
	}
	expectCounted(t, "a 404", before, storeErrors(t, s), "")
}

// TestAStoreThatFailsIsCountedByCause: the causes, on real stores that
// fail. MySQL: its address closed (a proxy cut) is unreachable, and a
// table dropped under the server is missing; SQLite: its file moved
// away is unavailable. /readyz, which a load balancer probes through an
// outage, is counted as any request; /readyz during the shutdown delay is
// no store's error.
func TestAStoreThatFailsIsCountedByCause(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		if k.Name == teststore.MySQL.Name {
			dsn, p := mysqltest.NewDatabaseBehindProxy(t)
			store := teststore.OpenMySQL(t, dsn)
			s := metricsServer(t, store, esthttp.Options{})
			expectStatus(t, "GET /readyz before the cut", s.do(http.MethodGet, "/readyz", ""), http.StatusOK)
			p.Cut()
			for _, path := range []string{"/readyz", "/events"} {
				before := storeErrors(t, s)
				expectStatus(t, "GET "+path+" with the database's address closed", s.do(http.MethodGet, path, ""), http.StatusServiceUnavailable)
				expectCounted(t, "GET "+path+" with the database's address closed", before, storeErrors(t, s), metrics.CauseUnreachable)
			}
			p.Restore(t)
			// A proxy with no server behind it: each connection closed
			// before MySQL's greeting (counted unavailable, as "invalid
			// connection", before the operator tester's F11 was fixed).
			p.Hollow()
			s.do(http.MethodGet, "/readyz", "") // a session cut midway may be the first to fail
			for _, path := range []string{"/readyz", "/events"} {
				before := storeErrors(t, s)
				expectStatus(t, "GET "+path+" with the database's address closing each connection", s.do(http.MethodGet, path, ""), http.StatusServiceUnavailable)
				expectCounted(t, "GET "+path+" with the database's address closing each connection", before, storeErrors(t, s), metrics.CauseUnreachable)
			}
			p.Fill()

			missing := teststore.OpenMySQL(t, mysqltest.NewDatabase(t))
			s = metricsServer(t, missing, esthttp.Options{})
			teststore.MySQL.Exec(t, missing, "DROP TABLE events")
			before := storeErrors(t, s)
			expectStatus(t, "GET /events with the events table dropped", s.do(http.MethodGet, "/events", ""), http.StatusServiceUnavailable)
			expectCounted(t, "GET /events with the events table dropped", before, storeErrors(t, s), metrics.CauseMissing)
			return
		}
		store := k.Open(t).(*sqlitestore.Store)
		s := metricsServer(t, store, esthttp.Options{})
		expectStatus(t, "GET /readyz before the move", s.do(http.MethodGet, "/readyz", ""), http.StatusOK)
		moveAway(t, store.Path())
		before := storeErrors(t, s)
		expectStatus(t, "GET /readyz with the database file moved away", s.do(http.MethodGet, "/readyz", ""), http.StatusServiceUnavailable)
		expectCounted(t, "GET /readyz with the database file moved away", before, storeErrors(t, s), metrics.CauseUnavailable)
	})

	store := teststore.SQLite.Open(t)
	h := esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := &testServer{t: t, url: srv.URL, client: &http.Client{Timeout: 30 * time.Second}, store: store}
	h.Stopping()
	before := storeErrors(t, s)
	expectStatus(t, "GET /readyz in the shutdown delay", s.do(http.MethodGet, "/readyz", ""), http.StatusServiceUnavailable)
	expectCounted(t, "GET /readyz in the shutdown delay", before, storeErrors(t, s), "")
}

// moveAway renames path (the SQLite store's file) aside, and puts it back
// at cleanup, or when the returned func is called.
func moveAway(t *testing.T, path string) (putBack func()) {
	t.Helper()
	if err := os.Rename(path, path+".away"); err != nil {
		t.Fatal(err)
	}
	done := false
	putBack = func() {
		t.Helper()
		if done {
			return
		}
		done = true
		if err := os.Rename(path+".away", path); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(putBack)
	return putBack
}

// logLine is one line of the JSON log.
type logLine map[string]any

// logLines parses the JSON log.
func logLines(t *testing.T, logs *testlog.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for line := range strings.Lines(logs.String()) {
		var l logLine
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("a log line is not JSON: %v\n%s", err, line)
		}
		out = append(out, l)
	}
	return out
}

// TestReadyzLogsAnOutageOnceAndItsEndOnce: with the database down, each
// probe of /readyz, one every few seconds from each load balancer, logged
// two ERROR lines ("request failed", then "request"), flooding the log for
// the whole outage, where the live feed logs one warning when it starts
// failing and one line when it recovers (a black-box operator test).
// /readyz now logs likewise: one WARN, with its cause, when it starts
// failing, one INFO when it is ready again, and each probe's access line at
// INFO, with no ERROR. Other requests' 5xx are logged as before. MySQL
// behind a proxy that is cut; SQLite, its file moved away and back.
func TestReadyzLogsAnOutageOnceAndItsEndOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		var store eventstore.Store
		var cut, restore func()
		if k.Name == teststore.MySQL.Name {
			dsn, p := mysqltest.NewDatabaseBehindProxy(t)
			store = teststore.OpenMySQL(t, dsn)
			cut, restore = p.Cut, func() { p.Restore(t) }
		} else {
			s := k.Open(t).(*sqlitestore.Store)
			store = s
			var putBack func()
			cut, restore = func() { putBack = moveAway(t, s.Path()) }, func() { putBack() }
		}
		logs := &testlog.Buffer{}
		s := metricsServer(t, store, esthttp.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		expectStatus(t, "GET /readyz before the outage", s.do(http.MethodGet, "/readyz", ""), http.StatusOK)
		cut()
		const probes = 5
		for i := range probes {
			expectStatus(t, fmt.Sprintf("probe %d of /readyz in the outage", i+1), s.do(http.MethodGet, "/readyz", ""), http.StatusServiceUnavailable)
		}
		if k.Name == teststore.MySQL.Name {
			// (SQLite's reads with its file moved away are a 500, a
			// defect of the store's own, reported apart.)
			expectStatus(t, "GET /events in the outage", s.do(http.MethodGet, "/events", ""), http.StatusServiceUnavailable)
		}
		restore()
		deadline := time.Now().Add(30 * time.Second) // a safety net: the database answers again at once
		for s.do(http.MethodGet, "/readyz", "").status != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatal("/readyz did not answer 200 once the database was back")
			}
			time.Sleep(50 * time.Millisecond)
		}
		expectStatus(t, "a probe of /readyz after the outage", s.do(http.MethodGet, "/readyz", ""), http.StatusOK)

		var warns, infos, accessed int
		for _, l := range logLines(t, logs) {
			msg, _ := l["msg"].(string)
			level, _ := l["level"].(string)
			path, _ := l["path"].(string)
			route, _ := l["route"].(string)
			switch {
			case path == "/events" || route == "/events":
				// Another request's 5xx is logged as before.
				if level != "ERROR" {
					t.Errorf("GET /events in the outage logged at %s, want ERROR as before: %v", level, l)
				}
			case level == "ERROR" && path == "/readyz":
				t.Errorf("/readyz in the outage logged an error: %v", l)
			case strings.HasPrefix(msg, "readyz:") && level == "WARN":
				warns++
				if e, _ := l["error"].(string); e == "" {
					t.Errorf("/readyz's warning does not say the cause: %v", l)
				}
			case strings.HasPrefix(msg, "readyz:") && level == "INFO":
				infos++
			case msg == "request" && route == "/readyz" && l["status"] == float64(http.StatusServiceUnavailable):
				accessed++
				if level != "INFO" {
					t.Errorf("a failing probe's access line at %s, want INFO: %v", level, l)
				}
			case level == "WARN" && path == "/readyz":
				t.Errorf("a probe of /readyz logged a warning besides the outage's one: %v", l)
			}
		}
		if warns != 1 || infos != 1 {
			t.Errorf("%d failing probes of /readyz and the database back: %d warnings and %d lines of recovery, want one each; the log:\n%s",
				probes, warns, infos, logs)
		}
		if accessed < probes {
			t.Errorf("%d access lines of failing probes, want %d: each probe keeps its line; the log:\n%s", accessed, probes, logs)
		}
	})
}

// TestTheFeedCountsItsFailedPollsAndWhenItLastPolled: through a database
// freeze, tributary_feed_head_position stayed flat (an idle log looks the
// same), the subscriptions' lag stayed 0 and the poll histogram recorded
// the stall only once it ended (a black-box operator test). The feed now
// counts its failed polls, and the time of its last good one stops while
// they fail, and moves again once the database is back. MySQL behind a
// proxy cut and restored; SQLite, the store closed under the feed.
func TestTheFeedCountsItsFailedPollsAndWhenItLastPolled(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		var store eventstore.Store
		var cut, restore func()
		if k.Name == teststore.MySQL.Name {
			dsn, p := mysqltest.NewDatabaseBehindProxy(t)
			store = teststore.OpenMySQL(t, dsn)
			cut, restore = p.Cut, func() { p.Restore(t) }
		} else {
			// Opened here, and closed once: by the test, under the feed.
			s, err := sqlitestore.Open(t.Context(), t.TempDir(), sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(t.Context()); err != nil {
				s.Close()
				t.Fatal(err)
			}
			store = s
			closed := false
			cut = func() { closed = true; s.Close() }
			t.Cleanup(func() {
				if !closed {
					s.Close()
				}
			})
		}
		m := metrics.New("test")
		srv := httptest.NewServer(m.Handler())
		t.Cleanup(srv.Close)
		s := &testServer{t: t, url: srv.URL, client: &http.Client{Timeout: 30 * time.Second}}
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, Metrics: m,
			Logger: slog.New(slog.DiscardHandler)})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); feed.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		gauge := func(name string) float64 {
			t.Helper()
			f := scrapeFamilies(t, s)[name]
			if f == nil {
				t.Fatalf("GET /metrics serves no %s", name)
			}
			if f.GetMetric()[0].GetGauge() != nil {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
			return f.GetMetric()[0].GetCounter().GetValue()
		}
		waitFor := func(what string, ok func() bool) {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second) // a safety net
			for !ok() {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not within 30 s", what)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		const last, failures = "tributary_feed_last_poll_timestamp_seconds", "tributary_feed_poll_failures_total"
		waitFor("a good poll", func() bool { return gauge(last) > 0 })
		if n := gauge(failures); n != 0 {
			t.Errorf("%s is %v with the database up, want 0", failures, n)
		}
		cut()
		waitFor("a failed poll counted", func() bool { return gauge(failures) > 0 })
		stopped, n := gauge(last), gauge(failures)
		waitFor("more failed polls counted", func() bool { return gauge(failures) >= n+3 })
		if now := gauge(last); now != stopped {
			t.Errorf("%s moved from %v to %v while every poll failed; want it to stay at the last good poll", last, stopped, now)
		}
		if now := float64(time.Now().Unix()); stopped > now+1 || stopped < now-60 {
			t.Errorf("%s is %v, want the time of the last good poll in Unix seconds (now %v)", last, stopped, now)
		}
		if restore == nil {
			return
		}
		restore()
		// The gauge has a resolution finer than a second: a good poll
		// after the restore moves it past the last one's.
		waitFor("a good poll once the database is back", func() bool { return gauge(last) > stopped })
	})
}

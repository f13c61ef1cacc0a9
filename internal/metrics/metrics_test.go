package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestAStoreOpenedAgainReplacesItsReplicaLag: the binary opens the MySQL
// store again when its migration meets a database that is not ready
// (cmd/api's openMySQL), and with a read replica each Open watches the
// replica's lag. The second must replace the first store's gauge, as Store
// replaces its pools', not panic on a second registration; and a scrape
// must ask the open store, not the closed one.
func TestAStoreOpenedAgainReplacesItsReplicaLag(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	open := func(lag float64) {
		t.Helper()
		defer func() {
			if rec := recover(); rec != nil {
				t.Fatalf("opening the store again panicked: %v", rec)
			}
		}()
		// As mysqlstore.Open does with a read replica.
		m.ReplicaLag(func() float64 { return lag })
		m.Store("mysql", nil)
	}
	open(7)
	open(3) // the first store was closed; this one serves
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "\ntributary_replica_lag_positions 3\n") {
		t.Errorf("after the store was opened again, /metrics serves:\n%s\nexpected tributary_replica_lag_positions 3, the open store's lag", grep(string(body), "tributary_replica_lag_positions"))
	}
}

// grep returns the lines of s that hold word.
func grep(s, word string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestASecondFeedReplacesTheFirstsLag: the live feed watches its
// subscriptions' lag through Lag when it is made (fanout.New). A second
// feed made with the same metrics (a store opened again, a test or tool that
// builds the parts twice) panicked on the second registration of
// tributary_subscriptions_lag_positions. It must replace the first feed's
// gauge, as ReplicaLag and BodiesInFlight replace theirs, and a scrape must
// ask the feed that serves now.
func TestASecondFeedReplacesTheFirstsLag(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	watch := func(lag int64) {
		t.Helper()
		defer func() {
			if rec := recover(); rec != nil {
				t.Fatalf("a second feed's Lag panicked: %v", rec)
			}
		}()
		m.Lag(func() int64 { return lag }) // as fanout.New does
	}
	watch(7)
	watch(3) // the first feed stopped; this one serves
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "\ntributary_subscriptions_lag_positions 3\n") {
		t.Errorf("after a second feed, /metrics serves:\n%s\nexpected tributary_subscriptions_lag_positions 3, the serving feed's lag", grep(string(body), "tributary_subscriptions_lag_positions"))
	}
}

// TestGaugesReplacedAtOnceEndWithOne: two feeds, servers or stores made at
// the same moment on the same metrics (tests do) each replace a gauge; the
// replacement read and wrote the slot without a lock (a data race) and
// could register both, the second MustRegister then panicking.
func TestGaugesReplacedAtOnceEndWithOne(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			m.Lag(func() int64 { return int64(i) })
			m.BodiesInFlight(func() int64 { return int64(i) })
			m.ReplicaLag(func() float64 { return float64(i) })
		})
	}
	wg.Wait()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, name := range []string{"tributary_subscriptions_lag_positions", "tributary_http_request_body_bytes_in_flight", "tributary_replica_lag_positions"} {
		if n := strings.Count(string(body), "\n"+name+" "); n != 1 {
			t.Errorf("after eight replacements at once, /metrics serves %s %d times, want once:\n%s", name, n, grep(string(body), name))
		}
	}
}

package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestAHelpTextNamesOtherMetricsInFull: tributary_http_request_duration_seconds'
// help named subscription_duration_seconds without its tributary_http_
// prefix, a name no query finds. A word of any help text that is the tail
// of a metric served is now that metric's whole name.
func TestAHelpTextNamesOtherMetricsInFull(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	// A series in every vector, so that each family, and its help, is served.
	m.ObserveRequest("/events", http.MethodGet, 200, 10, time.Millisecond)
	m.ObserveSubscription("/events", 200, 10, time.Second)
	m.Conflict(metrics.ConflictKinds[0])
	m.Statement("begin")
	m.Subscribed("log", 1)
	m.StoreError(metrics.StoreErrorCauses[0])
	m.ConnectionRefused("server")
	m.Lag(func() int64 { return 0 })
	m.BodiesInFlight(func() int64 { return 0 })
	m.ConnectionsOpen(func() int64 { return 0 })
	m.ReplicaLag(func() float64 { return 0 })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	helps := map[string]string{}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, help, _ := strings.Cut(rest, " ")
			helps[name] = help
		}
	}
	if len(helps) == 0 {
		t.Fatalf("no help served; the scrape:\n%s", body)
	}
	word := regexp.MustCompile(`[a-z][a-z0-9]*(?:_[a-z0-9]+)+`)
	for name, help := range helps {
		for _, w := range word.FindAllString(help, -1) {
			if _, whole := helps[w]; whole {
				continue
			}
			for served := range helps {
				if strings.HasSuffix(served, "_"+w) {
					t.Errorf("%s's help names %q; expected the whole name, %s: %q", name, w, served, help)
				}
			}
		}
	}
}

package http_test

import (
	"mime"
	"net/http"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheMetrics406NamesOnlyTheTypeServed: /metrics' 406 to an event
// stream alone said the exposition is "served only as text/plain or
// application/openmetrics-text, … or accept text/plain or
// application/openmetrics-text here", but OpenMetrics is not enabled: a
// scraper that took the advice and asked for OpenMetrics got text/plain.
// The detail names text/plain alone, the type every 200 of it is served
// as, an Accept taking OpenMetrics included. The store does not matter:
// SQLite.
func TestTheMetrics406NamesOnlyTheTypeServed(t *testing.T) {
	t.Parallel()
	s := serveWith(t, teststore.SQLite.Open(t), esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")})
	served := map[string]bool{}
	for _, accept := range []string{"application/openmetrics-text", "text/event-stream, application/openmetrics-text", "*/*", ""} {
		r := s.do(http.MethodGet, "/metrics", "", "Accept", accept)
		expectStatus(t, "GET /metrics, Accept "+accept, r, 200)
		mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
		served[mt] = true
	}
	r := s.do(http.MethodGet, "/metrics", "", "Accept", "text/event-stream")
	expectStatus(t, "GET /metrics, Accept text/event-stream", r, 406)
	detail, _ := r.json(t)["detail"].(string)
	for _, mt := range []string{"text/plain", "application/openmetrics-text"} {
		if named := strings.Contains(detail, mt); named != served[mt] {
			t.Errorf("GET /metrics, Accept text/event-stream: detail %q names %s: %v; served as %v on a 200, so want it named: %v",
				detail, mt, named, served, served[mt])
		}
	}
}

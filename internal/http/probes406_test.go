package http_test

import (
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnEventStreamAskedOfTheProbesThePageTheContractOrTheMetricsIs406:
// Accept: text/event-stream alone (an EventSource given the wrong URL) on
// /healthz, /readyz, /openapi.yaml, / or /metrics was answered 200 with
// JSON, YAML, HTML or text, where every other URL that cannot subscribe
// answers 406 naming the URLs that do. They answer the same 406 now, with
// Vary: Accept (the answer depends on it); an Accept that takes what the
// URL serves too, at a q above 0, is served as before.
func TestAnEventStreamAskedOfTheProbesThePageTheContractOrTheMetricsIs406(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := serveWith(t, k.Open(t), esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")})
		for _, tc := range []struct {
			path, served string
			takes        []string // Accepts with event-stream that take what it serves too
		}{
			{"/healthz", "application/json", []string{"text/event-stream, application/json", "text/event-stream, application/*"}},
			{"/readyz", "application/json", []string{"text/event-stream, application/json", "text/event-stream, */*;q=0.1"}},
			{"/openapi.yaml", "application/yaml", []string{"text/event-stream, application/yaml", "text/event-stream, */*"}},
			{"/", "text/html", []string{"text/event-stream, text/html", "text/event-stream, text/*"}},
			{"/metrics", "text/plain", []string{"text/event-stream, text/plain", "text/event-stream, application/openmetrics-text"}},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				for _, accept := range []string{"text/event-stream", "Text/Event-Stream", "text/event-stream, application/problem+json", "text/event-stream, " + tc.served + ";q=0"} {
					r := s.do(method, tc.path, "", "Accept", accept)
					if r.status != 406 || r.header.Get("Content-Type") != "application/problem+json" {
						t.Errorf("%s %s, Accept %q: %d %q; want 406 problem+json", method, tc.path, accept, r.status, r.header.Get("Content-Type"))
						continue
					}
					if !strings.Contains(r.header.Get("Vary"), "Accept") {
						t.Errorf("%s %s, Accept %q: 406 with Vary %q; want Accept in it", method, tc.path, accept, r.header.Get("Vary"))
					}
					if method == "HEAD" {
						continue
					}
					detail, _ := r.json(t)["detail"].(string)
					if !strings.Contains(detail, "/events") || !strings.Contains(detail, tc.served) {
						t.Errorf("GET %s, Accept %q: detail %q; want it to name the URLs that subscribe, and %s, which this one answers", tc.path, accept, detail, tc.served)
					}
				}
				for _, accept := range append(tc.takes, tc.served, "*/*", "") {
					r := s.do(method, tc.path, "", "Accept", accept)
					expectStatus(t, method+" "+tc.path+", Accept "+accept, r, 200)
					if !strings.Contains(r.header.Get("Vary"), "Accept") {
						t.Errorf("%s %s, Accept %q: 200 with Vary %q; want Accept in it", method, tc.path, accept, r.header.Get("Vary"))
					}
				}
			}
		}
	})
}

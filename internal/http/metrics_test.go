package http_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// metricsServer serves store over HTTP with metrics of its own, for one test.
func metricsServer(t *testing.T, store eventstore.Store, opts esthttp.Options) *testServer {
	t.Helper()
	opts.OpenAPI, opts.Metrics = api.OpenAPI, metrics.New("test")
	srv := httptest.NewServer(esthttp.New(store, opts))
	t.Cleanup(srv.Close)
	return &testServer{t: t, url: srv.URL, client: &http.Client{Timeout: 30 * time.Second}, store: store}
}

// scrapeFamilies reads GET /metrics and returns its metric families by name.
func scrapeFamilies(t *testing.T, s *testServer) map[string]*dto.MetricFamily {
	t.Helper()
	r := s.do(http.MethodGet, "/metrics", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("GET /metrics: not Prometheus's text format: %v", err)
	}
	return families
}

// labelValues returns the values the label takes across a family's series.
func labelValues(f *dto.MetricFamily, label string) map[string]bool {
	vals := map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				vals[l.GetValue()] = true
			}
		}
	}
	return vals
}

// TestClientsCannotGrowTheHTTPMetricsLabels: the request metrics are
// labelled by route, method and status, and each label value a client can
// pick is a series the server keeps for ever. A client that sends made-up
// methods and paths must not add series by the hundred: methods outside
// HTTP's own fold into one value, and paths no route serves into one route.
func TestClientsCannotGrowTheHTTPMetricsLabels(t *testing.T) {
	t.Parallel()
	s := metricsServer(t, nil, esthttp.Options{})
	const n = 50
	for i := range n {
		for _, path := range []string{fmt.Sprintf("/nowhere/%d", i), "/streams/" + fmt.Sprint(i) + "/events", "/healthz"} {
			s.do(fmt.Sprintf("BREW%d", i), path, "")
			s.do(http.MethodGet, path+fmt.Sprintf("/x%d", i), "")
		}
	}
	families := scrapeFamilies(t, s)
	for _, name := range []string{"tributary_http_requests_total", "tributary_http_request_duration_seconds"} {
		f := families[name]
		if f == nil {
			t.Fatalf("GET /metrics serves no %s", name)
		}
		if methods := labelValues(f, "method"); len(methods) > 10 {
			t.Errorf("%s: %d method label values after %d requests with made-up methods; expected HTTP's few and one for any other", name, len(methods), 3*n)
		}
		if routes := labelValues(f, "route"); len(routes) > 10 {
			t.Errorf("%s: %d route label values after requests to %d made-up paths; expected the routes' patterns and one for no route: %v", name, len(routes), 6*n, routes)
		}
		if series := len(f.GetMetric()); series > 40 {
			t.Errorf("%s: %d series after %d requests with made-up methods and paths; expected a few dozen at most", name, series, 6*n)
		}
	}
}

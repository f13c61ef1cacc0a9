package http_test

import (
	"net/http"
	"testing"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestProbesAndScrapersAreServedWithTheirOwnAccept pins what the 406 to an
// event stream alone must never catch: the Accept headers real probes and
// scrapers send, GET and HEAD. Kubernetes' kubelet sends */*; Docker's and
// most load balancers' health checks (curl, wget) */* or none; Prometheus
// (since 3.0) its own list of OpenMetrics and text formats; Consul's a
// text list; and */*;q=0, which takes nothing, is ignored as any Accept
// that names no event stream.
func TestProbesAndScrapersAreServedWithTheirOwnAccept(t *testing.T) {
	t.Parallel()
	s := serveWith(t, teststore.SQLite.Open(t), esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")})
	const prometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5," +
		"text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
	for _, tc := range []struct{ path, accept string }{
		{"/healthz", "*/*"}, {"/readyz", "*/*"}, {"/healthz", ""}, {"/readyz", ""},
		{"/healthz", "text/plain, text/*, */*"}, {"/healthz", "*/*;q=0"}, {"/readyz", "*/*;q=0"},
		{"/metrics", prometheus}, {"/metrics", "text/plain;version=0.0.4;q=1,*/*;q=0.1"}, {"/metrics", "*/*;q=0"},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			expectStatus(t, method+" "+tc.path+", Accept "+tc.accept, s.do(method, tc.path, "", "Accept", tc.accept), http.StatusOK)
		}
	}
}

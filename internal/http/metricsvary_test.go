package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheMetricsSayVaryAcceptOnce: /metrics' 200 said Vary: Accept twice
// (the API's varyOnAccept, then the Prometheus exposition's own), a header
// line saying the same thing again. It says it once, on its 200 and its
// 406, and keeps the Vary of a listed origin (Origin). The store does not
// matter: SQLite.
func TestTheMetricsSayVaryAcceptOnce(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test"),
		CORSOrigins: []string{"https://app.example"}}))
	t.Cleanup(srv.Close)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, accept := range []string{"", "text/plain", "text/event-stream"} {
			req, err := http.NewRequest(method, srv.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Origin", "https://app.example")
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			named := map[string]int{}
			for _, line := range resp.Header.Values("Vary") {
				for _, name := range strings.Split(line, ",") {
					named[http.CanonicalHeaderKey(strings.TrimSpace(name))]++
				}
			}
			if named["Accept"] != 1 || named["Origin"] != 1 {
				t.Errorf("%s /metrics, Accept %q: %d, Vary %q; want Accept and Origin each named once", method, accept, resp.StatusCode, resp.Header.Values("Vary"))
			}
		}
	}
}

package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestStoppingMakesOnlyReadyzAnswer503: during the shutdown delay a load
// balancer must see the instance as going while every request it still
// sends is served; the 503 is the problem /readyz answers when the
// database is down, as openapi.yaml describes, saying why.
func TestStoppingMakesOnlyReadyzAnswer503(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		h := esthttp.New(k.Open(t), esthttp.Options{OpenAPI: api.OpenAPI})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}}
		expectStatus(t, "readyz before Stopping", s.do("GET", "/readyz", ""), 200)
		h.Stopping()
		r := s.do("GET", "/readyz", "")
		expectStatus(t, "readyz once stopping", r, 503)
		p := r.json(t)
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" || p["type"] != esthttp.ProblemBase+"unavailable" ||
			!strings.Contains(p["detail"].(string), "shutting down") || r.header.Get("Retry-After") == "" {
			t.Errorf("readyz once stopping: %s, Retry-After %q, %s; want an application/problem+json of type unavailable, with Retry-After, saying it is shutting down",
				ct, r.header.Get("Retry-After"), r.body)
		}
		expectStatus(t, "healthz once stopping", s.do("GET", "/healthz", ""), 200)
		expectStatus(t, "an append once stopping", s.do("POST", "/streams/"+uuid.NewString()+"/events", `{"stream_type":"t","events":[{"type":"X","data":1}]}`), 201)
		expectStatus(t, "the log once stopping", s.do("GET", "/events", ""), 200)
	})
}

package http_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
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

// TestReadyzWhileStoppingLogsNoError: every 503 is logged as an error, for
// operators to alert on; /readyz's 503 during the shutdown delay is the
// server doing what it was told, and a probe every few seconds would have
// put an error line in the log of every ordinary shutdown.
func TestReadyzWhileStoppingLogsNoError(t *testing.T) {
	t.Parallel()
	var logged testlog.Buffer
	h := esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{Logger: slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	h.Stopping()
	res, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Fatalf("readyz once stopping: %d, want 503", res.StatusCode)
	}
	if out := logged.String(); strings.Contains(out, `"level":"ERROR"`) || !strings.Contains(out, "shutting down") {
		t.Errorf("the log: %s\nwant /readyz's 503 while stopping logged below ERROR, saying why", out)
	}
}

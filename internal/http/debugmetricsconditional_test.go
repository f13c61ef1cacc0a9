package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheDebugListenersMetricsAnswerConditionsAsTheAPIsDo: the debug
// listener's /metrics (MetricsHandler, TRIBUTARY_DEBUG_ADDR) is answered
// as the API's /metrics but for the token and the strict query. The API's
// answers If-Match "x" 412 and If-None-Match: * 304 (it has no entity
// tag, as the reads without one); the debug listener's answered 200 to
// both. It answers each condition as the API's does now, a 406 to an event
// stream alone staying a 406 whatever the condition. No store is asked.
func TestTheDebugListenersMetricsAnswerConditionsAsTheAPIsDo(t *testing.T) {
	t.Parallel()
	m := metrics.New("test")
	debug := httptest.NewServer(esthttp.MetricsHandler(m))
	t.Cleanup(debug.Close)
	api := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{OpenAPI: api.OpenAPI, Metrics: m}))
	t.Cleanup(api.Close)
	do := func(base, method string, header ...string) (int, http.Header, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, string(body)
	}
	for _, c := range []struct {
		header []string
		want   int
	}{
		{nil, 200},
		{[]string{"If-Match", `"x"`}, 412},
		{[]string{"If-Match", "*"}, 200},
		{[]string{"If-None-Match", "*"}, 304},
		{[]string{"If-None-Match", `"x"`}, 200},
		{[]string{"If-None-Match", "*", "Accept-Encoding", "gzip"}, 304},
		{[]string{"If-Match", `"x"`, "If-None-Match", "*"}, 412},
		{[]string{"If-Match", `"x"`, "Accept", "text/event-stream"}, 406},
		{[]string{"If-None-Match", "*", "Accept", "text/event-stream"}, 406},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			what := method + " /metrics " + strings.Join(c.header, ": ")
			apiStatus, _, _ := do(api.URL, method, c.header...)
			if apiStatus != c.want {
				t.Fatalf("%s on the API: %d; the test expects %d", what, apiStatus, c.want)
			}
			status, h, body := do(debug.URL, method, c.header...)
			if status != c.want {
				t.Errorf("%s on the debug listener: %d, want %d, as the API's /metrics answers it\nbody: %.200s", what, status, c.want, body)
				continue
			}
			switch {
			case status == 304 && (body != "" || h.Get("Content-Type") != "" || h.Get("Content-Encoding") != ""):
				t.Errorf("%s on the debug listener: 304 with Content-Type %q, Content-Encoding %q and %d bytes; want none of them",
					what, h.Get("Content-Type"), h.Get("Content-Encoding"), len(body))
			case status == 412 && method == http.MethodGet && !strings.Contains(body, "precondition-failed"):
				t.Errorf("%s on the debug listener: 412 body %s; want a precondition-failed problem", what, body)
			}
		}
	}
}

package http_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
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

// counterValue returns the value of the family's series with exactly the
// given label values, and whether there is one.
func counterValue(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
	for _, m := range f.GetMetric() {
		match := len(m.GetLabel()) == len(labels)
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if match {
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// TestARequestItsClientLeftIsNotCountedAsAnswered: a client that gives up
// on a request the database holds up (its own timeout, a closed tab) gets
// no answer. The request metrics must not count it as answered 200 with no
// body, or a stalled database shows as a run of successes; it is counted
// as 499, client closed request, as proxies log it. On both stores.
func TestARequestItsClientLeftIsNotCountedAsAnswered(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := metricsServer(t, stuckStore{k.Open(t)}, esthttp.Options{RequestTimeout: time.Minute})
		id := uuid.NewString()
		for _, tc := range []struct{ method, path, body string }{
			{http.MethodGet, "/streams/" + id, ""},
			{http.MethodPost, "/streams/" + id + "/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`},
		} {
			req, err := http.NewRequest(tc.method, s.url+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			if resp, err := (&http.Client{Timeout: 200 * time.Millisecond}).Do(req); err == nil {
				resp.Body.Close()
				t.Fatalf("%s %s on a stuck store: answered %d before the client's timeout", tc.method, tc.path, resp.StatusCode)
			}
		}
		routes := map[string]string{http.MethodGet: "/streams/{streamID}", http.MethodPost: "/streams/{streamID}/events"}
		deadline := time.Now().Add(10 * time.Second)
		for method, route := range routes {
			for {
				f := scrapeFamilies(t, s)["tributary_http_requests_total"]
				answered, _ := counterValue(f, map[string]string{"route": route, "method": method, "code": "200"})
				left, _ := counterValue(f, map[string]string{"route": route, "method": method, "code": "499"})
				if answered != 0 {
					t.Errorf("%s %s, which its client left before any answer: counted as answered 200; expected 499", method, route)
					break
				}
				if left == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("%s %s, which its client left before any answer: no code=\"499\" count 10 s later", method, route)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})
}

// TestARequestNoRouteServesIsLabelledUnmatched: the route label is the
// pattern of the route that served a request, and "unmatched" where none
// did, a 404 for a path the API does not have, whatever the method. Those
// under /streams were labelled with the router's inner catch-all,
// "/streams/{streamID}/*", a pattern the API does not have, or with the
// pattern of a route that did not serve them.
func TestARequestNoRouteServesIsLabelledUnmatched(t *testing.T) {
	t.Parallel()
	s := metricsServer(t, nil, esthttp.Options{})
	id := uuid.NewString()
	for _, req := range [][2]string{
		{http.MethodGet, "/nowhere"},
		{http.MethodPut, "/nowhere"},
		{"FOO", "/nowhere"},
		{http.MethodGet, "/streams/"},
		{http.MethodGet, "/streams/" + id + "/nowhere"},
		{http.MethodDelete, "/streams/" + id + "/nowhere"},
		{http.MethodGet, "/streams/" + id + "/events/1/nowhere"},
	} {
		r := s.do(req[0], req[1], "")
		if r.status != http.StatusNotFound {
			t.Fatalf("%s %s: %d; expected 404", req[0], req[1], r.status)
		}
	}
	f := scrapeFamilies(t, s)["tributary_http_requests_total"]
	if routes := labelValues(f, "route"); len(routes) != 1 || !routes["unmatched"] {
		t.Errorf("requests no route serves are labelled with routes %v; expected only \"unmatched\"", routes)
	}
}

// TestAMethodAPathDoesNotTakeIsLabelledWithThePathsRoute: a 405, a method
// a path does not take, was labelled "unmatched", among the 404s of
// scanners' misses, so a client sending PUT to a stream showed under no
// route. It carries the pattern of the route its path matched, as a GET
// of the path is labelled (and an OPTIONS of it), with its method and
// code 405 beside it.
func TestAMethodAPathDoesNotTakeIsLabelledWithThePathsRoute(t *testing.T) {
	t.Parallel()
	s := metricsServer(t, nil, esthttp.Options{})
	id := uuid.NewString()
	want := map[[2]string]string{
		{http.MethodPut, "/events"}:                       "/events",
		{http.MethodPost, "/streams"}:                     "/streams",
		{http.MethodDelete, "/streams/" + id}:             "/streams/{streamID}",
		{http.MethodPut, "/streams/" + id + "/events"}:    "/streams/{streamID}/events",
		{http.MethodPost, "/streams/" + id + "/events/1"}: "/streams/{streamID}/events/{version}",
		{http.MethodPost, "/healthz"}:                     "/healthz",
		{"FOO", "/streams/" + id}:                         "/streams/{streamID}",
	}
	for req := range want {
		if r := s.do(req[0], req[1], ""); r.status != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: %d; expected 405", req[0], req[1], r.status)
		}
	}
	counted := map[[2]string]float64{} // route, method → count of code 405
	for _, m := range scrapeFamilies(t, s)["tributary_http_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["code"] == "405" {
			counted[[2]string{labels["route"], labels["method"]}] += m.GetCounter().GetValue()
		}
	}
	for req, route := range want {
		method := req[0]
		if method == "FOO" {
			method = "other"
		}
		if n := counted[[2]string{route, method}]; n != 1 {
			t.Errorf("%s %s, answered 405: %v counted under route %q, want 1 (405s counted: %v)", req[0], req[1], n, route, counted)
		}
	}
}

// TestAnOptionsRequestIsLabelledWithItsPathsRoute: OPTIONS, and a CORS
// preflight, are answered before routing (options, corsHandler), and were
// labelled "unmatched" like a 404, so a browser app's preflights hid among
// scanners' misses and no route showed them. They carry the route pattern
// of the path they ask about, the one a GET of it is labelled with; OPTIONS *,
// about the whole server, "*"; a path no route serves stays "unmatched".
func TestAnOptionsRequestIsLabelledWithItsPathsRoute(t *testing.T) {
	t.Parallel()
	opts := esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test"), CORSOrigins: []string{"https://app.example.com"}}
	srv := httptest.NewUnstartedServer(esthttp.New(teststore.SQLite.Open(t), opts))
	srv.Config.DisableGeneralOptionsHandler = true // as cmd/api serves it: OPTIONS * reaches the API
	srv.Start()
	t.Cleanup(srv.Close)
	s := &testServer{t: t, url: srv.URL, client: &http.Client{Timeout: 30 * time.Second}}
	id := uuid.NewString()
	paths := map[string]string{
		"/":                               "/",
		"/healthz":                        "/healthz",
		"/events":                         "/events",
		"/streams":                        "/streams",
		"/streams/":                       "unmatched", // no route has a trailing slash
		"/streams/" + id:                  "/streams/{streamID}",
		"/streams/" + id + "/events":      "/streams/{streamID}/events",
		"/streams/" + id + "/events/1":    "/streams/{streamID}/events/{version}",
		"/streams/" + id + "/events/1/no": "unmatched",
		"/nowhere":                        "unmatched",
	}
	preflight := []string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "GET"}
	for path := range paths {
		s.do(http.MethodGet, path, "")
		s.do(http.MethodOptions, path, "")
		s.do(http.MethodOptions, path, "", preflight...)
	}
	optionsStar(t, srv.Listener.Addr().String())
	var f *dto.MetricFamily
	count := func(route, method string) float64 {
		var n float64
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["method"] == method {
				n += m.GetCounter().GetValue()
			}
		}
		return n
	}
	want := map[string]float64{}
	for _, route := range paths {
		want[route] += 2 // an OPTIONS and a preflight
	}
	want["*"]++
	// A request is counted just after its answer is sent: the last one
	// read may not be yet.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f = scrapeFamilies(t, s)["tributary_http_requests_total"]
		if count("*", http.MethodOptions) >= want["*"] || time.Now().After(deadline) {
			break
		}
	}
	for route, n := range want {
		if got := count(route, http.MethodOptions); got != n {
			t.Errorf("OPTIONS requests labelled route %q: %v, want %v (and GETs of the same paths: %v)", route, got, n, count(route, http.MethodGet))
		}
	}
	routes := labelValues(f, "route")
	delete(routes, "/metrics") // the scrapes' own, the first one's counted by the next
	if len(routes) != len(want) {
		t.Errorf("routes labelled: %v, want only %v", routes, want)
	}
}

// TestASubscriptionsLifeIsNotARequestsLatency: a subscription's request
// lasts as long as its client stays, hours, and it was observed in
// tributary_http_request_duration_seconds beside the pages of the same
// route: one subscriber that stayed an hour moved the p99 of GET /events
// reads to the top bucket. A subscription's life goes to
// tributary_http_subscription_duration_seconds instead; it is still counted
// in tributary_http_requests_total. Over HTTP/1.1, where it takes its
// connection over, and HTTP/2, where it stays on net/http's goroutine. On
// both stores.
func TestASubscriptionsLifeIsNotARequestsLatency(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
			t.Run(proto, func(t *testing.T) {
				t.Parallel()
				opts := esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")}
				_, _, srv := liveServerOf(t, k, opts, nil)
				client := &http.Client{Timeout: 30 * time.Second}
				if proto == "HTTP/2" {
					srv = tlsTwin(t, srv)
					client = srv.Client()
					client.Timeout = 30 * time.Second
				}
				s := &testServer{t: t, url: srv.URL, client: client}
				s.do(http.MethodGet, "/events", "") // a page: a request's latency
				for _, path := range []string{"/events", "/streams/" + uuid.NewString() + "/events"} {
					req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
					if err != nil {
						t.Fatal(err)
					}
					req.Header.Set("Accept", "text/event-stream")
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					if resp.ProtoMajor != map[string]int{"HTTP/1.1": 1, "HTTP/2": 2}[proto] || resp.StatusCode != http.StatusOK {
						t.Fatalf("GET %s as text/event-stream: %s %d, want %s 200", path, resp.Proto, resp.StatusCode, proto)
					}
					readToCaughtUp(t, resp.Body)
					resp.Body.Close() // the client leaves
				}
				routes := []string{"/events", "/streams/{streamID}/events"}
				var families map[string]*dto.MetricFamily
				// Each subscription is recorded when the server sees its
				// client leave, in either order: wait for both.
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					families = scrapeFamilies(t, s)
					ended := 0
					for _, route := range routes {
						if histogramCount(families["tributary_http_subscription_duration_seconds"], map[string]string{"route": route}) == 1 {
							ended++
						}
					}
					if ended == len(routes) || time.Now().After(deadline) {
						break
					}
				}
				// A scrape reads the families one by one while the server
				// records a subscription's count, then its duration: the
				// scrape that saw the duration may have read the count just
				// before it. The next one sees both.
				families = scrapeFamilies(t, s)
				for _, route := range routes {
					page := 0.0
					if route == "/events" {
						page = 1
					}
					if n := histogramCount(families["tributary_http_request_duration_seconds"], map[string]string{"route": route, "method": "GET"}); n != page {
						t.Errorf("tributary_http_request_duration_seconds{route=%q,method=\"GET\"} counts %v requests, want %v: the page, not the subscription", route, n, page)
					}
					if n := histogramCount(families["tributary_http_subscription_duration_seconds"], map[string]string{"route": route}); n != 1 {
						t.Errorf("tributary_http_subscription_duration_seconds{route=%q} counts %v subscriptions, want 1", route, n)
					}
					if n, _ := counterValue(families["tributary_http_requests_total"], map[string]string{"route": route, "method": "GET", "code": "200"}); n != page+1 {
						t.Errorf("tributary_http_requests_total{route=%q,method=\"GET\",code=\"200\"}: %v, want %v, the subscription counted", route, n, page+1)
					}
				}
			})
		}
	})
}

// histogramCount returns the observations of the family's series with
// exactly the given label values, 0 if there is none.
func histogramCount(f *dto.MetricFamily, labels map[string]string) float64 {
	for _, m := range f.GetMetric() {
		match := len(m.GetLabel()) == len(labels)
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if match {
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// readToCaughtUp reads a subscription's frames up to its caught-up frame.
func readToCaughtUp(t *testing.T, body io.Reader) {
	t.Helper()
	p := ssetest.NewParser(body, "")
	for {
		f, _, err := p.Next()
		if err != nil {
			t.Fatalf("reading up to caught-up: %v", err)
		}
		if f.Event == "caught-up" {
			return
		}
	}
}

// tlsTwin serves srv's handler over TLS with HTTP/2 as well, where a
// subscription cannot take its connection over.
func tlsTwin(t *testing.T, srv *httptest.Server) *httptest.Server {
	t.Helper()
	twin := httptest.NewUnstartedServer(srv.Config.Handler)
	twin.Config.ConnContext = esthttp.ConnContext
	twin.EnableHTTP2 = true
	twin.StartTLS()
	t.Cleanup(twin.Close)
	return twin
}

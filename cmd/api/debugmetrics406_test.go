package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestTheDebugListenersMetricsRefuseAnEventStreamAsTheAPIs: the API's
// /metrics answers 406 to an Accept that takes text/event-stream alone (an
// EventSource given the wrong URL, which a 200 would have retry for ever),
// with Vary: Accept; the debug listener's /metrics, the same exposition,
// answered it 200 with text, and said no Vary. It answers as the API's
// does now. No store is involved.
func TestTheDebugListenersMetricsRefuseAnEventStreamAsTheAPIs(t *testing.T) {
	t.Parallel()
	ask := askDebugMetrics(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, accept := range []string{"text/event-stream", "text/event-stream, text/plain;q=0"} {
			resp, body := ask(method, accept)
			if resp.StatusCode != http.StatusNotAcceptable || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("%s /metrics on the debug listener, Accept %q: %d %q; want 406 problem+json, as the API's", method, accept, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Accept") {
				t.Errorf("%s /metrics on the debug listener, Accept %q: Vary %q; want Accept in it", method, accept, resp.Header.Get("Vary"))
			}
			if method == http.MethodGet && !strings.Contains(body, "text/plain") {
				t.Errorf("GET /metrics on the debug listener, Accept %q: body %.200q; want a detail naming text/plain, what it serves", accept, body)
			}
		}
		for _, accept := range []string{"", "*/*", "text/event-stream, text/plain", "text/plain;version=0.0.4"} {
			resp, _ := ask(method, accept)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s /metrics on the debug listener, Accept %q: %d %q; want 200 text/plain", method, accept, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Accept") {
				t.Errorf("%s /metrics on the debug listener, Accept %q: 200 with Vary %q; want Accept in it", method, accept, resp.Header.Get("Vary"))
			}
		}
	}
}

// askDebugMetrics serves a debug listener's handler for the test, and
// returns a func that asks its /metrics with method and Accept (none if
// empty) and returns the response and its body.
func askDebugMetrics(t *testing.T) func(method, accept string) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(debugHandler(metrics.New("test")))
	t.Cleanup(srv.Close)
	return func(method, accept string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
}

package http_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestA405NeverQuotesAMethodHTTPDoesNotDefine: a 405's detail quoted the
// request's method whatever it was ("eyJhbGciOi….x is not allowed on
// /streams/…"): a method is any HTTP token, so a client (or a proxy's
// misconfigured template) that puts an access token where the method goes
// had it written back in the problem, which clients log and show. The log
// already wrote such a method by its length alone (logMethod); the detail
// now does the same, on the API's routes and on the debug listener's
// /metrics, and still names a method HTTP defines (DELETE).
func TestA405NeverQuotesAMethodHTTPDoesNotDefine(t *testing.T) {
	t.Parallel()
	const secret = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0c2VjcmV0c2VjcmV0"
	logs := &testlog.Buffer{}
	m := metrics.New("test")
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Metrics: m, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Tokens: []esthttp.Token{{Name: "app", Role: esthttp.RoleWrite, Secret: secret}},
	}))
	t.Cleanup(srv.Close)
	debug := httptest.NewServer(esthttp.MetricsHandler(m))
	t.Cleanup(debug.Close)
	detail := func(method, url string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var p struct{ Detail string }
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s %s: %d %s; want a problem", method, url, resp.StatusCode, body)
		}
		return resp.StatusCode, p.Detail
	}
	const stream = "/streams/0190a1a2-0000-7000-8000-0000000000e1"
	for _, method := range []string{secret, secret[:20] + "x", "get", "FOO"} {
		for _, url := range []string{srv.URL + stream, debug.URL + "/metrics"} {
			status, d := detail(method, url)
			if status != http.StatusMethodNotAllowed || strings.Contains(d, method) || !strings.Contains(d, "not allowed") {
				t.Errorf("%s %s: %d, detail %q; want a 405 saying the method is not allowed without quoting it", method, url, status, d)
			}
		}
	}
	for _, url := range []string{srv.URL + stream, debug.URL + "/metrics"} {
		if status, d := detail(http.MethodDelete, url); status != http.StatusMethodNotAllowed || !strings.HasPrefix(d, "DELETE is not allowed on ") {
			t.Errorf("DELETE %s: %d, detail %q; want a 405 naming DELETE", url, status, d)
		}
	}
	untilRequestsLogged(logs, 5)
	if strings.Contains(logs.String(), secret[:20]) {
		t.Errorf("the log holds the method sent: %.2000s", logs.String())
	}
}

// TestARefusedTargetNeverQuotesAMethodHTTPDoesNotDefine: the 400 of a
// target that names no path (evil:443, which a client sends a proxy) said
// "<method> evil:443 is not served here" whatever the method, the sibling
// of the 405's echo (TestA405NeverQuotesAMethodHTTPDoesNotDefine). A
// method HTTP does not define is given by its length now; GET is named.
func TestARefusedTargetNeverQuotesAMethodHTTPDoesNotDefine(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{OpenAPI: api.OpenAPI}))
	t.Cleanup(srv.Close)
	const method = "eyJhbGciOiJIUzI1NiJ9x"
	for _, tc := range []struct{ method, says string }{
		{method, "the method sent (21 bytes, not one HTTP defines; methods are case-sensitive) with the target evil:443 is not served here"},
		{"GET", "GET evil:443 is not served here"},
	} {
		resp, body := rawRequest(t, srv, tc.method+" evil:443 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
		var p struct{ Detail string }
		if err := json.Unmarshal([]byte(body), &p); err != nil || resp.StatusCode != http.StatusBadRequest ||
			strings.Contains(p.Detail, method) || !strings.HasPrefix(p.Detail, tc.says) {
			t.Errorf("%s evil:443: %d %s; want a 400 problem whose detail begins %q", tc.method, resp.StatusCode, body, tc.says)
		}
	}
}

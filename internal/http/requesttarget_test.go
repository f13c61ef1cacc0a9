package http_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARequestTargetThatNamesNoPathIsABadRequest: a request line whose
// target is not a path of the API, where the method cannot take one so
// written, was routed as "/" or "*": GET evil:443 (the authority form a
// client sends a proxy with CONNECT) served the page, and PRI * HTTP/1.1
// (HTTP/2's preface, sent to an HTTP/1.1 server) was a 405 whose Allow
// listed every method of the API. Each is a 400 problem saying what was
// wrong, with no Allow, as CONNECT evil:443 already was; a target in
// absolute form (http://host/path) is served as before.
func TestARequestTargetThatNamesNoPathIsABadRequest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{OpenAPI: api.OpenAPI}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		line   string
		status int
		says   []string
	}{
		{"PRI * HTTP/1.1", http.StatusBadRequest, []string{"PRI *", "HTTP/2", "HTTP/1.1"}},
		{"GET evil:443 HTTP/1.1", http.StatusBadRequest, []string{"GET evil:443", "not served here"}},
		{"POST evil:443 HTTP/1.1", http.StatusBadRequest, []string{"POST evil:443", "not served here"}},
		{"OPTIONS evil:443 HTTP/1.1", http.StatusBadRequest, []string{"OPTIONS evil:443", "not served here"}},
		{"CONNECT evil:443 HTTP/1.1", http.StatusBadRequest, []string{"CONNECT evil:443 is not served here"}},
		{"GET http://test/healthz HTTP/1.1", http.StatusOK, nil},
	} {
		resp, body := rawRequest(t, srv, tc.line+"\r\nHost: test\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		allow, hasAllow := resp.Header["Allow"]
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s; want %d", tc.line, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.status != http.StatusBadRequest {
			continue
		}
		var p struct{ Detail string }
		if err := json.Unmarshal([]byte(body), &p); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %q %s; want a problem", tc.line, resp.Header.Get("Content-Type"), body)
		}
		if hasAllow {
			t.Errorf("%s: Allow %q; want none (no resource there has methods to list)", tc.line, allow)
		}
		for _, s := range tc.says {
			if !strings.Contains(p.Detail, s) {
				t.Errorf("%s: detail %q; want it to say %q", tc.line, p.Detail, s)
			}
		}
	}
}

// TestAConnectIsLoggedWithTheTargetItAskedFor: CONNECT evil:443 was
// logged with "path":"", its target nowhere in the line, and an operator
// could not tell what it asked for. It is logged as its shape
// (targetShape): an IP address and a port as sent, a host name, which may
// be a mistyped token, as <invalid: N bytes>, a known token REDACTED.
func TestAConnectIsLoggedWithTheTargetItAskedFor(t *testing.T) {
	t.Parallel()
	const secret = "tok3n-s3cr3t-value-0123456789"
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Tokens: mustParseTokens(t, "app:write:"+secret),
	}))
	t.Cleanup(srv.Close)
	targets := []string{"evil:443", "[::1]:8080", secret + ":443"}
	for _, target := range targets {
		rawRequest(t, srv, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\nConnection: close\r\n\r\n")
	}
	untilRequestsLogged(logs, len(targets))
	out := logs.String()
	for _, want := range []string{`"path":"<invalid: 4 bytes>:443"`, `"path":"[::1]:8080"`, `"path":"REDACTED:443"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no access log line says %s; the log:\n%s", want, out)
		}
	}
	if holdsSecret(out, secret) {
		t.Errorf("the log holds the token:\n%s", out)
	}
}

// TestAnAbsoluteTargetWithNoPathIsLoggedAsTheRootItIsServedAs: GET
// http://test HTTP/1.1, a target in absolute form with an empty path, is
// served as / (the page), but was logged with "path":"", and an operator
// could not tell what it asked for; POST and OPTIONS of it were 404s with
// an empty detail, where / answers 405 and 204 with its Allow. It is
// logged and answered as "/", as RFC 9112 §3.2.2 takes an empty path to be.
func TestAnAbsoluteTargetWithNoPathIsLoggedAsTheRootItIsServedAs(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	resp, body := rawRequest(t, srv, "GET http://test HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET http://test: %d %q %.200s; want 200, the page at /", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// Answered as / is on every method, not as a path no route serves (404).
	for _, tc := range []struct {
		method string
		status int
	}{{"POST", http.StatusMethodNotAllowed}, {"OPTIONS", http.StatusNoContent}} {
		resp, body := rawRequest(t, srv, tc.method+" http://test HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("Allow"), "GET") {
			t.Errorf("%s http://test: %d, Allow %q, %s; want %d with the Allow of /, as %s / is answered",
				tc.method, resp.StatusCode, resp.Header.Get("Allow"), body, tc.status, tc.method)
		}
	}
	untilRequestsLogged(logs, 3)
	out := logs.String()
	if strings.Count(out, `"path":"/"`) != 3 || strings.Contains(out, `"path":""`) {
		t.Errorf(`GET http://test: want its access line to say "path":"/", what it is served as; the log:
%s`, out)
	}
}

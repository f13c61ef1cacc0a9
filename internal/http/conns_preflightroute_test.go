package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPreflightAtTheConnectionCapIsAllowedOnlyWhereTheAPIAllowsIt: past
// the connection cap, a listed origin's preflight was answered 204
// allowing the method asked for on any path: OPTIONS /nope, a path no
// route serves, and a POST on /events, which the API answers 405, were
// allowed there where the API itself refuses them (404, and a 204 without
// Access-Control-Allow-*). A preflight the API would refuse is now refused
// with the cap's 503, as any other request past it, without CORS allowing
// it; one it allows is still answered 204.
func TestAPreflightAtTheConnectionCapIsAllowedOnlyWhereTheAPIAllowsIt(t *testing.T) {
	api, capped := preflightsAtTheCap(t)
	for _, tc := range []struct {
		path, method string
		allowed      bool
	}{
		{"/", http.MethodGet, true},
		{"/streams/0190a1a2-0000-7000-8000-000000000001/events", http.MethodPost, true},
		{"/nope", http.MethodGet, false},
		{"/events", http.MethodPost, false},
		{"/streams/0190a1a2-0000-7000-8000-000000000001/events", http.MethodPut, false},
	} {
		req, _ := http.NewRequest(http.MethodOptions, api.URL+tc.path, nil)
		req.Header.Set("Origin", preflightOrigin)
		req.Header.Set("Access-Control-Request-Method", tc.method)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var body string
		if got := resp.StatusCode == http.StatusNoContent && resp.Header.Get("Access-Control-Allow-Origin") != ""; got != tc.allowed {
			t.Fatalf("the API's preflight of %s %s: %d %v; want it allowed: %v", tc.method, tc.path, resp.StatusCode, resp.Header, tc.allowed)
		}
		resp, body = preflight(t, capped, tc.path, tc.method)
		h := resp.Header
		switch {
		case tc.allowed && (resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != preflightOrigin):
			t.Errorf("the preflight of %s %s past the cap: %d %v %s; want 204 allowing it, as the API does", tc.method, tc.path, resp.StatusCode, h, body)
		case !tc.allowed && (resp.StatusCode != http.StatusServiceUnavailable || h.Get("Access-Control-Allow-Origin") != "" ||
			h.Get("Access-Control-Allow-Methods") != ""):
			t.Errorf("the preflight of %s %s past the cap: %d %v %s; want the cap's 503, allowing nothing, as the API refuses it", tc.method, tc.path, resp.StatusCode, h, body)
		}
	}
}

// preflightOrigin is the origin the preflight tests at the connection cap
// list.
const preflightOrigin = "https://app.example.com"

// preflightsAtTheCap starts the API with preflightOrigin listed, and a
// bounded server (10 connections, 1 a client) listing it too, whose one
// place for 127.0.0.1 a blocked request holds: its address (capped)
// answers that client's preflights with the cap's refusal.
func preflightsAtTheCap(t *testing.T) (api *httptest.Server, capped string) {
	t.Helper()
	api = httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{CORSOrigins: []string{preflightOrigin}}))
	t.Cleanup(api.Close)
	b := startBounded(t, 10, 1, preflightOrigin)
	c := dialFrom(t, b.addr, "127.0.0.1")
	c.send(t, "/block")
	b.untilBlocked(t, 1)
	return api, b.addr
}

// preflight sends preflightOrigin's preflight of method on target to addr,
// from 127.0.0.1, on a connection of its own, and returns the answer.
func preflight(t *testing.T, addr, target, method string) (*http.Response, string) {
	t.Helper()
	conn := dialFrom(t, addr, "127.0.0.1")
	if _, err := io.WriteString(conn, "OPTIONS "+target+" HTTP/1.1\r\nHost: test\r\nOrigin: "+preflightOrigin+
		"\r\nAccess-Control-Request-Method: "+method+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return conn.answer(t)
}

package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestEvery405CarriesTheListedOriginsCORSHeaders: a 405 to a PUT, DELETE
// or PATCH from a listed origin carried no Access-Control-Allow-Origin
// (the CORS middleware added it only to the methods it allowed, GET, HEAD
// and POST), where a 405 to a POST had it: whoever sent it from a page
// (a fetch whose preflight a proxy answered, an extension) got a network
// error where the problem said which methods the path takes. Every answer
// to a listed origin carries it now; the preflight of a method no path
// takes is still refused (options).
func TestEvery405CarriesTheListedOriginsCORSHeaders(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example.com"
	srv := httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{CORSOrigins: []string{origin}}))
	t.Cleanup(srv.Close)
	const stream = "/streams/0190a1a2-0000-7000-8000-000000000001"
	for _, tc := range []struct{ method, path string }{
		{http.MethodPost, "/events"},
		{http.MethodPut, stream + "/events"},
		{http.MethodDelete, stream},
		{http.MethodPatch, stream},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
			resp.Header.Get("Access-Control-Expose-Headers") == "" {
			t.Errorf("%s %s from a listed origin: %d %v %s; want the 405 with Access-Control-Allow-Origin %s and its exposed headers",
				tc.method, tc.path, resp.StatusCode, resp.Header, body, origin)
		}
		pre, _ := http.NewRequest(http.MethodOptions, srv.URL+tc.path, nil)
		pre.Header.Set("Origin", origin)
		pre.Header.Set("Access-Control-Request-Method", tc.method)
		resp, err = http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("the preflight of %s %s from a listed origin: %d %v; want it refused (no Access-Control-Allow-*): the path does not take it",
				tc.method, tc.path, resp.StatusCode, resp.Header)
		}
	}
}

// TestAnAnswerToAMethodHTTPDoesNotDefineCarriesTheListedOriginsCORSHeaders:
// the answer to a method the CORS library does not list (FOO, get, TRACE:
// a 405 on a path of the API, a 404 elsewhere) carried no
// Access-Control-Allow-Origin, where the 405 of a DELETE did: a page that
// sent one (a fetch whose preflight a proxy answered) saw a network error
// in place of the problem that names the methods the path takes. Each
// carries the listed origin's headers now; its preflight is still refused.
func TestAnAnswerToAMethodHTTPDoesNotDefineCarriesTheListedOriginsCORSHeaders(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example.com"
	srv := httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{CORSOrigins: []string{origin}}))
	t.Cleanup(srv.Close)
	const stream = "/streams/0190a1a2-0000-7000-8000-000000000002"
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"FOO", stream, http.StatusMethodNotAllowed},
		{"get", stream, http.StatusMethodNotAllowed},
		{http.MethodTrace, stream + "/events", http.StatusMethodNotAllowed},
		{"FOO", "/nowhere", http.StatusNotFound},
	} {
		for _, from := range []string{origin, "https://other.example.com"} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			req.Header.Set("Origin", from)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := ""
			if from == origin {
				want = origin
			}
			if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != want ||
				(resp.Header.Get("Access-Control-Expose-Headers") != "") != (want != "") {
				t.Errorf("%s %s from %s: %d %v %s; want %d with Access-Control-Allow-Origin %q, and exposed headers only with it",
					tc.method, tc.path, from, resp.StatusCode, resp.Header, body, tc.status, want)
			}
		}
		pre, _ := http.NewRequest(http.MethodOptions, srv.URL+tc.path, nil)
		pre.Header.Set("Origin", origin)
		pre.Header.Set("Access-Control-Request-Method", tc.method)
		resp, err := http.DefaultClient.Do(pre)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("the preflight of %s %s from a listed origin: %d %v; want it refused (no Access-Control-Allow-*)",
				tc.method, tc.path, resp.StatusCode, resp.Header)
		}
	}
	// With every origin allowed ("*"), as with GET's answer.
	every := httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{CORSOrigins: []string{"*"}}))
	t.Cleanup(every.Close)
	req, _ := http.NewRequest("FOO", every.URL+stream, nil)
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		resp.Header.Get("Access-Control-Expose-Headers") != "Etag, Location, Link, Retry-After, X-Request-Id" {
		t.Errorf("FOO %s with every origin allowed: %d %v; want the 405 with Access-Control-Allow-Origin * and the exposed headers", stream, resp.StatusCode, resp.Header)
	}
}

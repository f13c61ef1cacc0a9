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

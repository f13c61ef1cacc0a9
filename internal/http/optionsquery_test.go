package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPreflightIsAllowedWhateverItsQueryAndTheRequestReadsThe400: a
// preflight carries the URL of the request to come, query and all, and a
// browser takes a preflight that is no 2xx for a network error. So an
// OPTIONS does not judge the query (a plain OPTIONS asks about the path's
// methods, which the query does not change, and is answered alike): the
// preflight of a GET whose query the GET refuses is allowed, and the GET
// itself meets the 400 naming the parameter, readable by the page
// (Access-Control-Allow-Origin), where a 400 to the preflight would have
// left the page a network error and no word of why.
func TestAPreflightIsAllowedWhateverItsQueryAndTheRequestReadsThe400(t *testing.T) {
	t.Parallel()
	const origin = "https://app.example.com"
	srv := httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{CORSOrigins: []string{origin}}))
	t.Cleanup(srv.Close)
	for _, c := range []struct{ query, param string }{
		{"?after=0", ""}, // served: 200
		{"?after=0&bogus=1", "bogus"},
		{"?after=0&after=1", "after"},
		{"?limit=nope", "limit"},
	} {
		query := c.query
		do := func(method string, header ...string) (*http.Response, string) {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+"/events"+query, nil)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		resp, body := do(http.MethodOptions, "Origin", origin, "Access-Control-Request-Method", "GET")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("the preflight of GET /events%s: %d %v %s; want 204 allowing it", query, resp.StatusCode, resp.Header, body)
		}
		if resp, body := do(http.MethodOptions); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Allow") == "" {
			t.Errorf("OPTIONS /events%s: %d %v %s; want 204 with Allow, as its preflight", query, resp.StatusCode, resp.Header, body)
		}
		resp, body = do(http.MethodGet, "Origin", origin)
		if c.param == "" {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /events%s: %d %s; want 200", query, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(body, c.param) {
			t.Errorf("GET /events%s from a listed origin: %d %v %s; want the 400 naming the parameter, readable by the origin", query, resp.StatusCode, resp.Header, body)
		}
	}
}

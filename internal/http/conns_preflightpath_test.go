package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPreflightAtTheConnectionCapRoutesItsPathAsTheAPIDoes: the cap's
// refusal judged a preflight's path as sent, where the API routes it with
// its unreserved escapes decoded (/%65vents is /events) and an empty
// absolute-form path taken for "/": those preflights, which the API
// allows, were refused past the cap with a 503 allowing nothing.
func TestAPreflightAtTheConnectionCapRoutesItsPathAsTheAPIDoes(t *testing.T) {
	const origin = "https://app.example.com"
	api := httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{CORSOrigins: []string{origin}}))
	t.Cleanup(api.Close)
	b := startBounded(t, 10, 1, origin)
	c := dialFrom(t, b.addr, "127.0.0.1")
	c.send(t, "/block")
	b.untilBlocked(t, 1)
	for _, tc := range []struct{ target, method string }{
		{"/%65vents", http.MethodGet},
		{"/streams/0190a1a2-0000-7000-8000-000000000001/%65vents", http.MethodPost},
		{"http://test", http.MethodGet},
	} {
		for _, at := range []struct {
			name string
			addr string
		}{{"the API", api.Listener.Addr().String()}, {"past the cap", b.addr}} {
			conn := dialFrom(t, at.addr, "127.0.0.1")
			if _, err := io.WriteString(conn, "OPTIONS "+tc.target+" HTTP/1.1\r\nHost: test\r\nOrigin: "+origin+
				"\r\nAccess-Control-Request-Method: "+tc.method+"\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, body := conn.answer(t)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("%s: the preflight of %s on %s: %d %v %s; want 204 allowing it", at.name, tc.method, tc.target, resp.StatusCode, resp.Header, body)
			}
		}
	}
}

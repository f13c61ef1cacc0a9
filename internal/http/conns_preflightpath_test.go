package http_test

import (
	"net/http"
	"testing"
)

// TestAPreflightAtTheConnectionCapRoutesItsPathAsTheAPIDoes: the cap's
// refusal judged a preflight's path as sent, where the API routes it with
// its unreserved escapes decoded (/%65vents is /events) and an empty
// absolute-form path taken for "/": those preflights, which the API
// allows, were refused past the cap with a 503 allowing nothing.
func TestAPreflightAtTheConnectionCapRoutesItsPathAsTheAPIDoes(t *testing.T) {
	api, capped := preflightsAtTheCap(t)
	for _, tc := range []struct{ target, method string }{
		{"/%65vents", http.MethodGet},
		{"/streams/0190a1a2-0000-7000-8000-000000000001/%65vents", http.MethodPost},
		{"http://test", http.MethodGet},
	} {
		for _, at := range []struct {
			name string
			addr string
		}{{"the API", api.Listener.Addr().String()}, {"past the cap", capped}} {
			resp, body := preflight(t, at.addr, tc.target, tc.method)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != preflightOrigin {
				t.Errorf("%s: the preflight of %s on %s: %d %v %s; want 204 allowing it", at.name, tc.method, tc.target, resp.StatusCode, resp.Header, body)
			}
		}
	}
}

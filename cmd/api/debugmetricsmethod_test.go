package main

import (
	"net/http"
	"testing"
)

// TestTheDebugListenersMetricsAnswerOtherMethodsAsTheAPIs: the debug
// listener's /metrics, said to answer as the API's /metrics does but for
// the token and the strict query, served the exposition, 200, to any
// method (a POST, a DELETE, an OPTIONS), where the API's answers 405 with
// Allow (204 with Allow to an OPTIONS). It answers as the API's now. No
// store is involved.
func TestTheDebugListenersMetricsAnswerOtherMethodsAsTheAPIs(t *testing.T) {
	t.Parallel()
	ask := askDebugMetrics(t)
	for method, want := range map[string]int{http.MethodPost: 405, http.MethodDelete: 405, http.MethodPut: 405, http.MethodOptions: 204} {
		resp, body := ask(method, "")
		if resp.StatusCode != want || resp.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("%s /metrics on the debug listener: %d, Allow %q, body %.80q; want %d with Allow \"GET, HEAD, OPTIONS\", as the API's", method, resp.StatusCode, resp.Header.Get("Allow"), body, want)
		}
		if want == 405 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s /metrics on the debug listener: Content-Type %q; want the API's 405 problem", method, resp.Header.Get("Content-Type"))
		}
	}
}

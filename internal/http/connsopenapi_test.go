package http_test

import (
	"net/http"
	"testing"
	"time"
)

// TestTheConnectionCapsAnswerIsInTheContractOfEveryPath: a new connection
// past TRIBUTARY_MAX_CONNECTIONS is answered 503 before its request is
// routed, whatever its path: openapi.yaml lists that 503 under every
// operation (a review found none under /, /healthz, /metrics and
// /openapi.yaml); the contract transport fails the test on an answer the
// document does not describe.
func TestTheConnectionCapsAnswerIsInTheContractOfEveryPath(t *testing.T) {
	b := startBounded(t, 1, 1)
	dialFrom(t, b.addr, "127.0.0.1").send(t, "/block")
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := plain.Get("http://" + b.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503 within 10 s of a held connection at a bound of 1: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := newContract(t)
	c.base = &http.Transport{DisableKeepAlives: true}
	client := &http.Client{Transport: c, Timeout: 10 * time.Second}
	for _, path := range []string{"/", "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/streams", "/events"} {
		resp, err := client.Get("http://" + b.addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		want := http.StatusServiceUnavailable
		if path == "/healthz" {
			want = http.StatusOK // the process is alive: a liveness probe is answered so at the bound too
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s past the bound: %d; expected %d", path, resp.StatusCode, want)
		}
	}
}

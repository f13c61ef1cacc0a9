package http_test

import (
	"net/http"
	"testing"
)

// TestAtTheBoundAConditionalHealthzIsNoProbe: at a connection bound a GET
// or HEAD of /healthz is answered 200 on the refused connection, as its
// handler answers a liveness probe. One sending If-Match "x" or
// If-None-Match: * was answered 200 there too, where the handler answers
// 412 and 304 (tagless): the refused connection said what the server
// never says. No probe sends either (kubelet's, Docker's, api
// healthcheck): such a request is refused 503 as any other, an answer the
// conditions do not change (RFC 9110 §13.2.1); one sending neither is
// still answered 200.
func TestAtTheBoundAConditionalHealthzIsNoProbe(t *testing.T) {
	b := startFullBound(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, condition := range []string{`If-Match: "x"`, "If-None-Match: *", "if-none-match: *", "IF-MATCH: *"} {
			c := dialFrom(t, b.addr, "127.0.0.3")
			if _, err := c.Write([]byte(method + " /healthz HTTP/1.1\r\nHost: test\r\n" + condition + "\r\n\r\n")); err != nil {
				t.Fatalf("send %s /healthz %s: %v", method, condition, err)
			}
			if method == http.MethodGet {
				requireRefused(t, c, "2 connections")
				continue
			}
			if resp, _ := c.answerTo(t, method); resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("%s /healthz %s at the connection bound: %d; want the 503 of any request but a probe's", method, condition, resp.StatusCode)
			}
		}
		// A probe, which sends neither, is answered as ever.
		probe := dialFrom(t, b.addr, "127.0.0.3")
		probe.sendMethod(t, method, "/healthz")
		if resp, _ := probe.answerTo(t, method); resp.StatusCode != http.StatusOK {
			t.Errorf("%s /healthz without conditions at the connection bound: %d; want 200", method, resp.StatusCode)
		}
	}
}

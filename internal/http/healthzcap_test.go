package http_test

import (
	"net/http"
	"testing"
	"time"
)

// TestAtTheBoundALivenessProbeIsAnsweredAlive: at TRIBUTARY_MAX_CONNECTIONS
// (or a client's share) /healthz was refused 503 as any request: a liveness
// probe (Kubernetes', an orchestrator's) then restarted an instance that
// was only at its peak, cutting every subscription it held. /healthz says
// the process is alive, which it is: answered 200 on the refused
// connection, as the handler does, no handler run. /readyz is still 503 (an
// instance at its bound is not ready for more), and so is any other
// request.
func TestAtTheBoundALivenessProbeIsAnsweredAlive(t *testing.T) {
	b := startFullBound(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		probe := dialFrom(t, b.addr, "127.0.0.3")
		probe.sendMethod(t, method, "/healthz")
		resp, body := probe.answerTo(t, method)
		if resp.StatusCode != http.StatusOK || method == http.MethodGet && body != `{"status":"ok"}` {
			t.Errorf("%s /healthz at the connection bound: %d %q; want 200 {\"status\":\"ok\"}", method, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Content-Type") != "application/json" || !resp.Close {
			t.Errorf("%s /healthz at the connection bound: headers %v; want X-Request-Id, Content-Type application/json and Connection: close", method, resp.Header)
		}
	}
	ready := dialFrom(t, b.addr, "127.0.0.3")
	ready.send(t, "/readyz")
	requireRefused(t, ready, "2 connections")
	other := dialFrom(t, b.addr, "127.0.0.3")
	other.send(t, "/healthz/x")
	requireRefused(t, other, "2 connections")
}

// sendMethod writes a request of method for path on c.
func (c *rawConn) sendMethod(t *testing.T, method, path string) {
	t.Helper()
	if _, err := c.Write([]byte(method + " " + path + " HTTP/1.1\r\nHost: test\r\n\r\n")); err != nil {
		t.Fatalf("send %s %s: %v", method, path, err)
	}
}

// answerTo reads the response to a request of method on c, within
// answerGuard: a hang guard, which an answer that comes ends at once.
func (c *rawConn) answerTo(t *testing.T, method string) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(answerGuard)) //nolint:errcheck
	resp, err := http.ReadResponse(c.r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	var body []byte
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	return resp, string(body)
}

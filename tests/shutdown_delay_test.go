package tests

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freshRequest sends one request on a connection of its own, as a client
// that a load balancer newly sends to this instance would, and returns the
// status, Content-Type and body.
func freshRequest(t *testing.T, s *server, method, path string, body []byte) (status int, contentType string, b []byte) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on a new connection: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err = io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s on a new connection: read the body: %v", method, path, err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

// logIndex is the index of the first log line whose msg is msg, or -1.
func (s *server) logIndex(msg string) int {
	for i, l := range s.logLines() {
		if l["msg"] == msg {
			return i
		}
	}
	return -1
}

// TestTheShutdownDelayKeepsServingWhileNotReady: on SIGTERM the server
// began its drain at once, and net/http closed unanswered the connections
// that a load balancer, not yet told the instance was going, still sent
// it: clients saw resets, and an append was lost to most of them. With
// TRIBUTARY_SHUTDOWN_DELAY the server first answers /readyz 503 and serves
// everything else, new connections included, for the delay; then it
// drains as before and exits 0, all within the shutdown timeout.
func TestTheShutdownDelayKeepsServingWhileNotReady(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		if status, _, b := freshRequest(t, s, http.MethodGet, "/readyz", nil); status != http.StatusOK {
			t.Fatalf("GET /readyz before SIGTERM: %d, want 200: %s", status, b)
		}
		start := time.Now()
		s.signalAndWaitFor(t, syscall.SIGTERM, "shutdown delay: not ready, still serving")

		status, ctype, b := freshRequest(t, s, http.MethodGet, "/readyz", nil)
		var p struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(b, &p); err != nil || status != http.StatusServiceUnavailable || ctype != "application/problem+json" ||
			p.Type != problemBase+"unavailable" || p.Status != 503 || !strings.Contains(p.Detail, "shutting down") {
			t.Errorf("GET /readyz during the shutdown delay: %d %s %s; want 503, an application/problem+json of type %sunavailable whose detail says it is shutting down",
				status, ctype, b, problemBase)
		}
		if status, _, b := freshRequest(t, s, http.MethodGet, "/healthz", nil); status != http.StatusOK {
			t.Errorf("GET /healthz during the shutdown delay: %d, want 200: %s", status, b)
		}
		body := []byte(`{"stream_type":"t","events":[{"type":"DuringDelay","data":{}}]}`)
		if status, _, b := freshRequest(t, s, http.MethodPost, "/streams/"+newID()+"/events", body); status != http.StatusCreated {
			t.Errorf("an append on a new connection during the shutdown delay: %d, want 201: %s", status, b)
		}
		if i := s.logIndex("shutting down"); i >= 0 {
			t.Errorf("the drain began %s after SIGTERM, within the 1 s shutdown delay", time.Since(start).Round(time.Millisecond))
		}

		_, code := s.waitExit(8 * time.Second)
		took := time.Since(start)
		if code != 0 || took < time.Second || took > 5*time.Second {
			t.Errorf("TRIBUTARY_SHUTDOWN_DELAY=1s, TRIBUTARY_SHUTDOWN_TIMEOUT=5s, nothing in flight: exit status %d after %s; want 0 after the 1 s delay and within the 5 s timeout. Output:\n%s",
				code, took.Round(time.Millisecond), s.output(8192))
		}
		delay, drain := s.logIndex("shutdown delay: not ready, still serving"), s.logIndex("shutting down")
		if drain < delay || s.logIndex("stopped") < drain {
			t.Errorf("expected the lines \"shutdown delay: not ready, still serving\", \"shutting down\" and \"stopped\" in that order; output:\n%s", s.output(8192))
		}
		if l := s.logLines()[delay]; l["delay_ms"] != 1000.0 || l["timeout_ms"] != 5000.0 {
			t.Errorf("the shutdown delay line: delay_ms %v and timeout_ms %v, want 1000 and 5000 (every duration is logged in milliseconds)", l["delay_ms"], l["timeout_ms"])
		}
	}, "TRIBUTARY_SHUTDOWN_DELAY=1s", "TRIBUTARY_SHUTDOWN_TIMEOUT=5s")
}

// TestASecondSignalCutsTheShutdownDelayShort: a second SIGTERM or SIGINT
// during the shutdown delay means now, as it does during the drain: the
// server exits at once, with status 1.
func TestASecondSignalCutsTheShutdownDelayShort(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		s.signalAndWaitFor(t, syscall.SIGTERM, "shutdown delay: not ready, still serving")
		time.Sleep(200 * time.Millisecond)
		select {
		case <-s.exited:
			t.Fatalf("the server exited (status %d) within 10 s shutdown delay; output:\n%s", s.exitCode, s.output(8192))
		default:
		}
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		took, code := s.waitExit(5 * time.Second)
		if code != 1 || took > 2*time.Second {
			t.Fatalf("a second SIGTERM during a 10 s shutdown delay: exit status %d after %s; want 1 within 2 s. Output:\n%s",
				code, took.Round(time.Millisecond), s.output(8192))
		}
		if !strings.Contains(s.output(8192), "cut short by a second signal") {
			t.Errorf("a second SIGTERM during the shutdown delay: expected a log line saying the stop was cut short; output:\n%s", s.output(8192))
		}
	}, "TRIBUTARY_SHUTDOWN_DELAY=10s", "TRIBUTARY_SHUTDOWN_TIMEOUT=20s")
}

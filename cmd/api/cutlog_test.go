package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestRequestsCutByTheServerAreLoggedAsItsDoingNotTheClients: a request
// still running when a second signal (or the shutdown timeout) cut the
// drain was logged and counted 499, "client closed request", or, an append
// whose body was still coming, 400, "the body was cut short": the server
// cut them, and an operator reading the log, or an alert on 5xx, took the
// clients for the cause. They are logged and counted 503, the server's
// doing. On both stores: an append waiting in the store, one whose body is
// still coming, a read waiting in the store.
func TestRequestsCutByTheServerAreLoggedAsItsDoingNotTheClients(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &heldUntilCut{closableStore: k.Open(t).(closableStore), entered: make(chan string, 2)}
		cutCtx, cut := context.WithCancel(context.Background())
		defer cut()
		srv := serveToStop(t, store, cutCtx, 60*time.Second, 60*time.Second)
		base, stop, done, logs := srv.base, srv.stop, srv.done, srv.logs
		go func() {
			body := strings.NewReader(`{"stream_type":"t","events":[{"type":"Held","data":{}}]}`)
			if resp, err := http.Post(base+"/streams/"+uuid.NewString()+"/events", "application/json", body); err == nil {
				resp.Body.Close()
			}
		}()
		go func() {
			if resp, err := http.Get(base + "/streams/" + uuid.NewString()); err == nil {
				resp.Body.Close()
			}
		}()
		for range 2 {
			select {
			case <-store.entered:
			case <-time.After(30 * time.Second):
				t.Fatal("the append and the read never reached the store")
			}
		}
		// An append whose body is still coming.
		conn, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("POST /streams/" + uuid.NewString() + "/events HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n" +
			"Content-Length: 100000\r\n\r\n{\"stream_type\":\"t\",\"events\":[{\"type\":\"Slow\",\"data\":{\"pad\":\"")); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); !bodyArriving(base); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the append whose body is coming never reached its handler")
			}
		}
		// SIGTERM: the drain waits for all three.
		stop()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), `"msg":"shutting down"`); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no shutting down line; the log says:\n%s", logs.String())
			}
		}
		cut() // the second signal
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not return after the second signal")
		}
		lines := requestLines(t, logs)
		cutLines := 0
		for _, l := range lines {
			if l.Path == "/metrics" {
				continue // the test's own look at the server
			}
			if l.Status == 201 || l.Status == 404 {
				t.Errorf("%s %s answered %d: it was held until the cut", l.Method, l.Path, l.Status)
				continue
			}
			cutLines++
			if l.Status != http.StatusServiceUnavailable || l.Level != "WARN" {
				t.Errorf("%s %s, cut by the server's second signal: logged %d at %s; want 503 at WARN, the server's doing (499 and 400 blame the client)",
					l.Method, l.Path, l.Status, l.Level)
			}
		}
		if cutLines != 3 {
			t.Errorf("want 3 request lines for the 3 requests cut, got %d; the log says:\n%s", cutLines, logs.String())
		}
	})
}

// bodyArriving reports whether the server at base says it is receiving a
// request body (its handler reads it).
func bodyArriving(base string) bool {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "tributary_http_request_body_bytes_in_flight "); ok {
			return v != "0"
		}
	}
	return false
}

// requestLine is an access log line.
type requestLine struct {
	Level, Method, Path string
	Status              int
}

// requestLines returns the access log lines in logs.
func requestLines(t *testing.T, logs *testlog.Buffer) []requestLine {
	t.Helper()
	var out []requestLine
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct {
			Msg    string `json:"msg"`
			Level  string `json:"level"`
			Method string `json:"method"`
			Path   string `json:"path"`
			Status int    `json:"status"`
		}
		if line == "" || json.Unmarshal([]byte(line), &l) != nil || l.Msg != "request" {
			continue
		}
		out = append(out, requestLine{Level: l.Level, Method: l.Method, Path: l.Path, Status: l.Status})
	}
	return out
}

// heldUntilCut is a store whose Append and Stream wait until their request
// is cut (their context ends), as an append waiting on a lock and a read on
// a stalled database do, then return the context's error. entered receives
// the method's name as each begins.
type heldUntilCut struct {
	closableStore
	entered chan string
}

func (s *heldUntilCut) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	s.entered <- "Append"
	<-ctx.Done()
	return eventstore.AppendResult{}, ctx.Err()
}

func (s *heldUntilCut) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	s.entered <- "Stream"
	<-ctx.Done()
	return eventstore.Stream{}, ctx.Err()
}

// Close leaves the real store to the test's cleanup.
func (s *heldUntilCut) Close() error { return nil }

package tests

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// startWithFileLimit starts the server with its open-file limit (soft and
// hard) set to n, as a container's or a unit's limit would set it.
func startWithFileLimit(t *testing.T, n int, env ...string) *server {
	t.Helper()
	script := filepath.Join(t.TempDir(), "api-limited")
	body := "#!/bin/sh\nulimit -n " + strconv.Itoa(n) + " || exit 99\nexec " + apiBinary + " \"$@\"\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatalf("write %s: %v", script, err)
	}
	s := launchBinary(t, script, env...)
	s.waitListening(t)
	return s
}

// holdIdleConnections opens n connections to s, sends one request on each,
// reads its answer and keeps the connection open and idle, as a client
// that keeps connections alive and never closes them. Connections the
// server does not take or answer within a second are left as they are.
func holdIdleConnections(t *testing.T, s *server, n int) (answered int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, err := net.DialTimeout("tcp", hostPort(s.URL), time.Second)
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			conn.SetDeadline(time.Now().Add(time.Second)) //nolint:errcheck
			if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")); err != nil {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return
			}
			resp.Body.Close()
			mu.Lock()
			answered++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return answered
}

// getFrom sends GET path to s from the local address ip (any 127.0.0.0/8
// address reaches a server on 127.0.0.1), within timeout.
func getFrom(s *server, ip, path string, timeout time.Duration) (*http.Response, error) {
	d := &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext, DisableKeepAlives: true}}
	return c.Get(s.URL + path)
}

func TestAClientHoldingManyIdleConnectionsCannotLockOthersOut(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		// 256 open files: far fewer than one client's connections below.
		s := startWithFileLimit(t, 256, k.ServerEnv...)
		held := holdIdleConnections(t, s, 400)
		t.Logf("the greedy client holds %d answered connections", held)

		// Another client, from another address, is served at once.
		start := time.Now()
		resp, err := getFrom(s, "127.0.0.2", "/healthz", 5*time.Second)
		if err != nil {
			t.Fatalf("GET /healthz from another client while one holds its connections idle: %v (after %s); expected a prompt 200", err, time.Since(start).Round(time.Millisecond))
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz from another client: status %d; expected 200", resp.StatusCode)
		}
		// And so is an append, which needs the store (and, on MySQL, may
		// need a connection to the database: a file of its own).
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext, DisableKeepAlives: true}}
		body := jsonBytes(t, appendBody{StreamType: "t", Events: events(1, "E")})
		resp, err = c.Post(s.URL+"/streams/"+newID()+"/events", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatalf("append from a third client while one holds its connections idle: %v; expected 201", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("append from a third client: status %d; expected 201", resp.StatusCode)
		}
	})
}

package tests

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/execfile"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// startWithFileLimit starts the server with its open-file limit (soft and
// hard) set to n, as a container's or a unit's limit would set it.
func startWithFileLimit(t *testing.T, n int, env ...string) *server {
	t.Helper()
	script := filepath.Join(t.TempDir(), "api-limited")
	body := "#!/bin/sh\nulimit -n " + strconv.Itoa(n) + " || exit 99\nexec " + apiBinary + " \"$@\"\n"
	if err := execfile.Write(script, []byte(body)); err != nil {
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

// connectionsOpen reads tributary_http_connections_open from s's debug
// listener, whose own connections are not counted.
func connectionsOpen(t *testing.T, debugAddr string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get("http://" + debugAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics on the debug listener: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "tributary_http_connections_open "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("tributary_http_connections_open %q: not a count", v)
			}
			return n
		}
	}
	t.Fatalf("GET /metrics on the debug listener: no tributary_http_connections_open")
	return 0
}

// waitConnectionsOpen waits up to 5 s for the server to count want
// connections open.
func waitConnectionsOpen(t *testing.T, debugAddr string, want int, after string) {
	t.Helper()
	got := -1
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = connectionsOpen(t, debugAddr); got == want {
			return
		}
	}
	t.Fatalf("after %s, the server counts %d connections open; expected %d", after, got, want)
}

// connExchange dials s and sends what on the connection, then reads what
// comes back until the server closes it or 2 s pass, unless closeAtOnce.
func connExchange(t *testing.T, s *server, what string, closeAtOnce bool) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostPort(s.URL), 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if what != "" {
		if _, err := c.Write([]byte(what)); err != nil {
			t.Fatalf("send %q: %v", what, err)
		}
	}
	if closeAtOnce {
		return ""
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second)) //nolint:errcheck
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestConnectionsAreCountedUntilClosedAndSubscriptionsAreNeverClosedAsIdle(t *testing.T) {
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MAX_CONNECTIONS=4", "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT=4", "TRIBUTARY_DEBUG_ADDR=127.0.0.1:0")
	debugAddr := ""
	for _, l := range s.logLines() {
		if l["msg"] == "debug listening" {
			debugAddr, _ = l["addr"].(string)
		}
	}
	if debugAddr == "" {
		t.Fatalf("no \"debug listening\" log line with its address. Output:\n%s", s.output(4<<10))
	}

	// Connections that end in every way a client can end one.
	get := "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
	for range 200 {
		connExchange(t, s, "", true)                            // connected and closed
		connExchange(t, s, "GET /healthz HTTP/1.1\r\nHo", true) // cut inside its headers
		connExchange(t, s, get, true)                           // gone before its answer
		connExchange(t, s, strings.Replace(get, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1), false)
	}
	for range 50 {
		connExchange(t, s, get+get+get[:20], true)                    // pipelined, the last cut short
		connExchange(t, s, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false) // HTTP/2 with prior knowledge
	}
	waitConnectionsOpen(t, debugAddr, 0, "a thousand connections ended by their clients")

	// Subscriptions fill the bound: they are never idle, so a new
	// connection is refused rather than one of them closed.
	subs := make([]*sseStream, 4)
	for i := range subs {
		subs[i] = subscribe(t, s, "/events")
		subs[i].requireRetry(t)
	}
	waitConnectionsOpen(t, debugAddr, 4, "4 subscriptions")
	ready := strings.Replace(get, "/healthz", "/readyz", 1)
	if got := connExchange(t, s, ready, false); !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "TRIBUTARY_MAX_CONNECTIONS") {
		t.Fatalf("a connection with 4 subscriptions open at a bound of 4: %q; expected a 503 naming TRIBUTARY_MAX_CONNECTIONS", got)
	}
	// A liveness probe is answered alive there: the process is.
	if got := connExchange(t, s, get, false); !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, `{"status":"ok"}`) {
		t.Fatalf("GET /healthz with 4 subscriptions open at a bound of 4: %q; expected 200 {\"status\":\"ok\"}", got)
	}
	subs[0].Close()
	waitConnectionsOpen(t, debugAddr, 3, "a subscription closed by its client")
	s.mustAppend(t, newID(), appendBody{StreamType: "t", Events: events(1, "E")})
	for i, sub := range subs[1:] {
		if f := sub.next(t); !f.HasData {
			t.Fatalf("subscription %d: frame %s; expected the event appended", i+1, f)
		}
	}
	if code, killed := s.terminate(); code != 0 || killed {
		t.Fatalf("SIGTERM with subscriptions open: exit %d (killed %v); expected a clean exit 0", code, killed)
	}
}

func TestSIGTERMDuringAFloodOfConnectionsAtTheBoundDrainsCleanly(t *testing.T) {
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MAX_CONNECTIONS=4", "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT=4")
	for range 4 {
		subscribe(t, s, "/events").requireRetry(t)
	}
	// A flood of connections, each sending a request and reading what
	// comes, until the server has gone.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answered, refused atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", hostPort(s.URL), time.Second)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // gone, or its backlog full
					continue
				}
				c.SetDeadline(time.Now().Add(2 * time.Second))                //nolint:errcheck
				c.Write([]byte("GET /readyz HTTP/1.1\r\nHost: test\r\n\r\n")) //nolint:errcheck // /healthz is answered alive at the bound
				if b, _ := io.ReadAll(c); bytes.HasPrefix(b, []byte("HTTP/1.1 503 ")) {
					refused.Add(1)
				} else if len(b) > 0 {
					answered.Add(1)
				}
				c.Close()
			}
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	code, killed := s.terminate()
	t.Logf("the flood had %d connections answered 503, %d otherwise; the stop took %s", refused.Load(), answered.Load(), time.Since(start).Round(time.Millisecond))
	if code != 0 || killed {
		t.Fatalf("SIGTERM during a flood at the bound: exit %d (killed %v); expected a clean exit 0. Output:\n%s", code, killed, s.output(8<<10))
	}
	if refused.Load() == 0 {
		t.Fatalf("no connection of the flood was refused; expected the bound reached. Output:\n%s", s.output(8<<10))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the stop during a flood took %s; expected a few seconds at most", took)
	}
}

package http_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// boundedServer serves, on a listener bounded by esthttp.Connections, 200
// to GET /, and to GET /block only once release is closed.
type boundedServer struct {
	addr    string
	release chan struct{}
	logs    *testlog.Buffer
	idle    chan struct{} // one value each time a connection is recorded idle
	blocked chan struct{} // one value each time a request to /block is read

	mu      sync.Mutex
	states  map[http.ConnState]int  // how often each state was told, once Connections had been told it
	watched map[string]*watchedConn // the server's side of each connection, by its client's address
}

// watchedConn is the server's side of a connection, under Connections':
// it counts the bytes it has handed on, and the count when its latest read
// began. Embedding *net.TCPConn keeps what Connections and net/http look
// for on a connection (CloseWrite, SyscallConn, ReadFrom) as it was.
type watchedConn struct {
	*net.TCPConn
	read, readBefore atomic.Int64
}

// Read reads, noting first how many bytes the connection had handed on.
func (c *watchedConn) Read(p []byte) (int, error) {
	c.readBefore.Store(c.read.Load())
	n, err := c.TCPConn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// watchingListener hands out its connections as watchedConns, recorded in b.
type watchingListener struct {
	net.Listener
	b *boundedServer
}

func (l watchingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	w := &watchedConn{TCPConn: c.(*net.TCPConn)}
	l.b.mu.Lock()
	l.b.watched[c.RemoteAddr().String()] = w
	l.b.mu.Unlock()
	return w, nil
}

// untilTaken waits until the server has taken in all c has sent, and has
// gone on to read again: the read that handed the last of it on has
// returned through Connections' own, and so Connections has seen those
// bytes (net/http tells no state for a request begun, only for one whose
// headers it has read whole). Bounded by the test's deadline (untilState).
func (b *boundedServer) untilTaken(t *testing.T, c *rawConn) {
	t.Helper()
	sent := c.sent.Load()
	untilState(t, fmt.Sprintf("the server read the %d bytes sent on %s and read again", sent, c.LocalAddr()), func() bool {
		b.mu.Lock()
		w := b.watched[c.LocalAddr().String()]
		b.mu.Unlock()
		return w != nil && w.readBefore.Load() >= sent
	})
}

// startBounded starts a boundedServer; its refusals answer CORS for the
// origins given (TRIBUTARY_CORS_ORIGINS), if any.
func startBounded(t *testing.T, maxConns, perClient int, origins ...string) *boundedServer {
	t.Helper()
	logs := &testlog.Buffer{}
	conns := esthttp.NewConnections(maxConns, perClient, slog.New(slog.NewJSONHandler(logs, nil)), nil)
	if len(origins) > 0 {
		conns.AllowOrigins(origins)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	b := &boundedServer{addr: ln.Addr().String(), release: make(chan struct{}), logs: logs, idle: make(chan struct{}, 100),
		blocked: make(chan struct{}, 100), states: map[http.ConnState]int{}, watched: map[string]*watchedConn{}}
	srv := &http.Server{
		ConnState: func(c net.Conn, st http.ConnState) {
			conns.ConnState(c, st)
			b.mu.Lock()
			b.states[st]++
			b.mu.Unlock()
			if st == http.StateIdle {
				select {
				case b.idle <- struct{}{}:
				default:
				}
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				select {
				case b.blocked <- struct{}{}:
				default:
				}
				select {
				case <-b.release:
				case <-r.Context().Done():
				}
			}
			io.WriteString(w, "ok") //nolint:errcheck
		}),
	}
	go srv.Serve(conns.Listener(watchingListener{ln, b})) //nolint:errcheck // ends with Close
	t.Cleanup(func() {
		select {
		case <-b.release:
		default:
			close(b.release)
		}
		srv.Close()
	})
	return b
}

// getIdle sends GET / on c, requires a 200, and waits until the server has
// recorded c idle after it.
func (b *boundedServer) getIdle(t *testing.T, c *rawConn) {
	t.Helper()
	c.get(t, "/")
	select {
	case <-b.idle:
	case <-time.After(5 * time.Second):
		t.Fatalf("the connection was not recorded idle after its answer within 5 s")
	}
}

// untilBlocked waits until the server has read n more requests to /block,
// each of which then holds its connection's place, busy, until release.
func (b *boundedServer) untilBlocked(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-b.blocked:
		case <-time.After(hangGuard):
			t.Fatalf("the server read %d of %d requests to /block within %v", i, n, hangGuard)
		}
	}
}

// told reports how often the server has told its connections' bound of
// connections in state st, of any connection.
func (b *boundedServer) told(st http.ConnState) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.states[st]
}

// rawConn is one client connection, from a local address of its own.
type rawConn struct {
	net.Conn
	r    *bufio.Reader
	sent atomic.Int64 // bytes written on it
}

// Write writes p on c, counting what was written.
func (c *rawConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.sent.Add(int64(n))
	return n, err
}

func dialFrom(t *testing.T, addr, ip string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// send writes GET path on c.
func (c *rawConn) send(t *testing.T, path string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatalf("send GET %s: %v", path, err)
	}
}

// answerGuard bounds the wait for an answer, or a close, the server is to
// make at once: 2 s is within reach of a scheduler's delay on two cores
// shared with other work (this repo's tests have run at a load average of
// 20); a server that never answers, or never closes, still fails the test
// in 10 s, not at the binary's deadline.
const answerGuard = 10 * time.Second

// answer reads the response to what c sent, within answerGuard.
func (c *rawConn) answer(t *testing.T) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(answerGuard)) //nolint:errcheck
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read the answer's body: %v", err)
	}
	return resp, string(body)
}

// get sends GET path on c and requires a 200.
func (c *rawConn) get(t *testing.T, path string) {
	t.Helper()
	c.send(t, path)
	if resp, body := c.answer(t); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s; expected 200", path, resp.StatusCode, body)
	}
}

// closedByServer reports whether the server has closed c (within
// answerGuard: one still open costs its caller that wait).
func (c *rawConn) closedByServer() bool {
	c.SetReadDeadline(time.Now().Add(answerGuard)) //nolint:errcheck
	_, err := c.r.ReadByte()
	return err != nil && !isTimeout(err)
}

// eitherClosedByServer reports whether the server has closed a or b
// (within answerGuard), as soon as it has closed one: it waits out the
// guard only if it has closed neither.
func eitherClosedByServer(a, b *rawConn) bool {
	closed := make(chan bool, 2)
	for _, c := range []*rawConn{a, b} {
		go func() { closed <- c.closedByServer() }()
	}
	if <-closed {
		return true
	}
	return <-closed // the other's
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// requireRefused requires a 503 problem+json naming what, with Retry-After
// and Connection: close, and the connection closed after it.
func requireRefused(t *testing.T, c *rawConn, what string) {
	t.Helper()
	resp, body := c.answer(t)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a connection past the bound: %d %s; expected 503", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("the refusal has no X-Request-Id; every answer of the service carries one")
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("the refusal's Content-Type is %q; expected application/problem+json", ct)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("the refusal's X-Content-Type-Options is %q; expected nosniff, as every answer of the service's", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("the refusal's Cache-Control is %q; expected no-store, as every problem's", got)
	}
	if resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Errorf("the refusal's Retry-After %q, Connection: close %v; expected both", resp.Header.Get("Retry-After"), resp.Close)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Status != 503 || p.Type != esthttp.ProblemBase+"unavailable" || !strings.Contains(p.Detail, what) {
		t.Errorf("the refusal's body %s (%v); expected an unavailable problem whose detail says %q", body, err, what)
	}
	if !c.closedByServer() {
		t.Errorf("the refused connection is still open; expected it closed after the answer")
	}
}

func TestAtTheBoundANewConnectionTakesTheLongestIdlePlace(t *testing.T) {
	b := startBounded(t, 3, 3)
	var held []*rawConn
	for range 3 {
		c := dialFrom(t, b.addr, "127.0.0.1")
		b.getIdle(t, c)
		held = append(held, c)
	}
	b.getIdle(t, held[1]) // the first is now the one idle longest
	late := dialFrom(t, b.addr, "127.0.0.1")
	late.get(t, "/")
	if !held[0].closedByServer() {
		t.Fatalf("the connection idle longest is still open after a fourth took its place; expected it closed")
	}
	held[1].get(t, "/")
	held[2].get(t, "/")
}

func TestAtTheBoundWithNoConnectionIdleANewOneIsAnswered503(t *testing.T) {
	b := startFullBound(t)
	refused := dialFrom(t, b.addr, "127.0.0.3")
	refused.send(t, "/")
	requireRefused(t, refused, "2 connections")
	if !strings.Contains(b.logs.String(), `"setting":"TRIBUTARY_MAX_CONNECTIONS"`) {
		t.Errorf("the refusal was not logged with the setting that bounds it; the log:\n%s", b.logs.String())
	}

	// Once the busy ones are done and idle (for the grace, at the server's
	// bound), a new connection takes a place. Until one has been recorded
	// idle that long (later than the test can tell, under load) it is
	// rightly refused 503, and tries again.
	close(b.release)
	refusedAgain := answeredWhenRoomIsMade(t, b.addr, "127.0.0.1", "GET / on a new connection once the busy ones at a bound of 2 are done",
		http.StatusOK, func(c *rawConn) error {
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
			return err
		})
	t.Logf("the new connection was refused %d times before an idle one was closed for it", refusedAgain)
}

func TestOneClientAtItsBoundLeavesRoomForOthers(t *testing.T) {
	b := startBounded(t, 10, 2)
	for range 2 {
		c := dialFrom(t, b.addr, "127.0.0.1")
		c.send(t, "/block")
	}
	b.untilBlocked(t, 2)
	refused := dialFrom(t, b.addr, "127.0.0.1")
	refused.send(t, "/")
	requireRefused(t, refused, "this client's address already holds 2 connections")
	b.getIdle(t, dialFrom(t, b.addr, "127.0.0.2"))

	// At its bound with one idle, a client's new connection takes the
	// place of its own, not another client's.
	other := dialFrom(t, b.addr, "127.0.0.2")
	b.getIdle(t, other)
	mine := dialFrom(t, b.addr, "127.0.0.3")
	b.getIdle(t, mine)
	mine2 := dialFrom(t, b.addr, "127.0.0.3")
	b.getIdle(t, mine2)
	dialFrom(t, b.addr, "127.0.0.3").get(t, "/")
	if !mine.closedByServer() {
		t.Errorf("a client's connection idle longest is still open after its third took its place; expected it closed")
	}
	other.get(t, "/")
}

// TestARefusedConnectionCarriesCORSForAListedOrigin: the 503 of a
// connection past TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT is written before
// any handler, the CORS middleware's included, and carried no
// Access-Control-Allow-Origin: a page of a listed origin could read
// neither it nor its Retry-After (fetch failed as a network error), though
// every other refusal answers it. It carries the middleware's own CORS
// headers for a listed origin, and none for another.
func TestARefusedConnectionCarriesCORSForAListedOrigin(t *testing.T) {
	b := startBounded(t, 10, 1, "https://app.example.com")
	c := dialFrom(t, b.addr, "127.0.0.1")
	c.send(t, "/block")
	b.untilBlocked(t, 1)
	for origin, listed := range map[string]bool{"https://app.example.com": true, "https://other.example.com": false} {
		refused := dialFrom(t, b.addr, "127.0.0.1")
		if _, err := io.WriteString(refused, "GET / HTTP/1.1\r\nHost: test\r\nOrigin: "+origin+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, body := refused.answer(t)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("a connection past the client's bound: %d %s; expected 503", resp.StatusCode, body)
		}
		allow, expose := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Expose-Headers")
		if listed && (allow != origin || !strings.Contains(expose, "Retry-After")) {
			t.Errorf("the refusal of a listed origin's request: Access-Control-Allow-Origin %q, -Expose-Headers %q; want %q, exposing Retry-After", allow, expose, origin)
		}
		if !listed && (allow != "" || expose != "") {
			t.Errorf("the refusal of an unlisted origin's request: Access-Control-Allow-Origin %q, -Expose-Headers %q; want neither", allow, expose)
		}
	}
}

// TestAPreflightAtTheConnectionCapIsAnsweredSoTheRequestCanReadThe503: a
// CORS preflight on a connection past the cap was refused 503 as any
// request, and a browser takes a preflight that is not a 2xx for a
// network error: a page that sends a token (every page, tokens on) could
// read neither the 503 nor its Retry-After (a retest). A listed origin's
// preflight is answered 204 with the CORS middleware's headers (not its
// Max-Age: no route checked the method), the connection still closed
// after; the request that follows meets the readable 503. An unlisted
// origin's preflight is refused 503 as before, without CORS.
func TestAPreflightAtTheConnectionCapIsAnsweredSoTheRequestCanReadThe503(t *testing.T) {
	b := startBounded(t, 10, 1, "https://app.example.com")
	c := dialFrom(t, b.addr, "127.0.0.1")
	c.send(t, "/block")
	b.untilBlocked(t, 1)
	preflight := func(origin string) *rawConn {
		t.Helper()
		refused := dialFrom(t, b.addr, "127.0.0.1")
		if _, err := io.WriteString(refused, "OPTIONS / HTTP/1.1\r\nHost: test\r\nOrigin: "+origin+
			"\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		return refused
	}
	listed := preflight("https://app.example.com")
	resp, body := listed.answer(t)
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") || h.Get("Access-Control-Allow-Methods") != "GET" ||
		h.Get("Access-Control-Max-Age") != "" {
		t.Errorf("a listed origin's preflight past the client's bound: %d %v %s; want 204 allowing the origin, GET and authorization, no Max-Age", resp.StatusCode, h, body)
	}
	if !resp.Close || !listed.closedByServer() {
		t.Errorf("a listed origin's preflight past the client's bound: Connection %q; want it closed after its answer, as any refused connection", h.Get("Connection"))
	}
	request := dialFrom(t, b.addr, "127.0.0.1")
	if _, err := io.WriteString(request, "GET / HTTP/1.1\r\nHost: test\r\nOrigin: https://app.example.com\r\nAuthorization: Bearer x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, body := request.answer(t); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		resp.Header.Get("Retry-After") == "" {
		t.Errorf("the request after its preflight, past the client's bound: %d %v %s; want the 503 with Retry-After, readable by the origin", resp.StatusCode, resp.Header, body)
	}
	unlisted := preflight("https://other.example.com")
	if resp, body := unlisted.answer(t); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("an unlisted origin's preflight past the client's bound: %d %v %s; want the 503 without CORS", resp.StatusCode, resp.Header, body)
	}
}

func TestAClosedConnectionGivesItsPlaceBack(t *testing.T) {
	b := startBounded(t, 1, 1)
	for range 5 {
		c := dialFrom(t, b.addr, "127.0.0.1")
		closed := b.told(http.StateClosed)
		c.send(t, "/block")
		b.untilBlocked(t, 1)
		c.Close() // the request is cut: its handler ends, its place is free
		untilState(t, "the server closed the cut connection", func() bool { return b.told(http.StateClosed) > closed })
	}
	c := dialFrom(t, b.addr, "127.0.0.1")
	c.get(t, "/")
}

func TestAConnectionWhoseNextRequestIsArrivingIsNotClosedAsIdle(t *testing.T) {
	b := startBounded(t, 1, 1)
	c := dialFrom(t, b.addr, "127.0.0.1")
	b.getIdle(t, c)
	// Its next request has begun: net/http has its first bytes, not yet
	// all its headers.
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHo"); err != nil {
		t.Fatalf("send the start of a request: %v", err)
	}
	// Once Connections has seen them: net/http tells active only once the
	// headers are whole.
	b.untilTaken(t, c)
	// Its client's own new one: at the server's bound, another's would
	// wait for it to be idle for SilentGrace, and be refused either way.
	late := dialFrom(t, b.addr, "127.0.0.1")
	late.send(t, "/")
	requireRefused(t, late, "1 connection ")
	if _, err := io.WriteString(c, "st: test\r\n\r\n"); err != nil {
		t.Fatalf("send the rest of the request: %v", err)
	}
	if resp, body := c.answer(t); resp.StatusCode != http.StatusOK {
		t.Fatalf("the request whose start had arrived: %d %s; expected 200", resp.StatusCode, body)
	}
}

func TestEveryRefusedConnectionIsLoggedByItsBoundEvenInABurst(t *testing.T) {
	t.Parallel() // waits out the log's interval, 10 s
	b := startBounded(t, 2, 1)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		dialFrom(t, b.addr, ip).send(t, "/block")
	}
	b.untilBlocked(t, 2)
	// A burst: three at the server's bound, two at the first client's.
	for _, ip := range []string{"127.0.0.3", "127.0.0.1", "127.0.0.3", "127.0.0.1", "127.0.0.3"} {
		c := dialFrom(t, b.addr, ip)
		c.send(t, "/")
		if resp, _ := c.answer(t); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("a connection from %s past a bound: %d; expected 503", ip, resp.StatusCode)
		}
	}
	want := map[string]int{"server": 3, "client": 2}
	var got map[string]int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got = map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
			var entry struct {
				Msg     string `json:"msg"`
				Bound   string `json:"bound"`
				Setting string `json:"setting"`
				Refused int    `json:"refused"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(entry.Msg, "connections refused") {
				got[entry.Bound] += entry.Refused
				if wantSetting := map[string]string{"server": "TRIBUTARY_MAX_CONNECTIONS", "client": "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT"}[entry.Bound]; entry.Setting != wantSetting {
					t.Fatalf("a refusal at the %s bound logged with setting %q; expected %q", entry.Bound, entry.Setting, wantSetting)
				}
			}
		}
		if got["server"] == want["server"] && got["client"] == want["client"] {
			return
		}
	}
	t.Fatalf("the log's refusals by bound: %v; expected %v. The log:\n%s", got, want, b.logs.String())
}

// pipeListener hands out the server ends of in-memory connections whose
// remote address is whatever the test says.
type pipeListener struct{ conns chan net.Conn }

func (l *pipeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l *pipeListener) Close() error   { return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func TestAConnectionsClientIsItsIPv4AddressOrItsIPv6Slash64(t *testing.T) {
	for _, tt := range []struct {
		name        string
		first, then string
		same        bool
	}{
		{"IPv6 in one /64", "[2001:db8:1:2::1]:4000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:4001", true},
		{"IPv6 in the next /64", "[2001:db8:1:2::1]:4000", "[2001:db8:1:3::1]:4001", false},
		{"IPv4 and the same mapped into IPv6", "192.0.2.1:4000", "[::ffff:192.0.2.1]:4001", true},
		{"IPv4 mapped, and its neighbour", "[::ffff:192.0.2.1]:4000", "192.0.2.2:4001", false},
		{"link-local with zones", "[fe80::1%eth0]:4000", "[fe80::2%eth1]:4001", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			conns := esthttp.NewConnections(10, 1, slog.New(slog.DiscardHandler), nil)
			pl := &pipeListener{conns: make(chan net.Conn, 2)}
			ln := conns.Listener(pl)
			var clients []net.Conn
			for _, a := range []string{tt.first, tt.then} {
				ap, err := netip.ParseAddrPort(a)
				if err != nil {
					t.Fatalf("parse %s: %v", a, err)
				}
				server, client := net.Pipe()
				t.Cleanup(func() { server.Close(); client.Close() })
				pl.conns <- addrConn{server, net.TCPAddrFromAddrPort(ap)}
				clients = append(clients, client)
			}
			close(pl.conns)
			if _, err := ln.Accept(); err != nil {
				t.Fatalf("the first connection, from %s, was not taken: %v", tt.first, err)
			}
			_, err := ln.Accept()
			if taken := err == nil; taken == tt.same {
				t.Fatalf("a second connection, from %s, after one from %s, with one per client: taken %v; expected %v", tt.then, tt.first, taken, !tt.same)
			}
			if tt.same {
				clients[1].SetDeadline(time.Now().Add(2 * time.Second))               //nolint:errcheck
				go io.WriteString(clients[1], "GET / HTTP/1.1\r\nHost: test\r\n\r\n") //nolint:errcheck // a pipe: written as it is read
				resp, err := http.ReadResponse(bufio.NewReader(clients[1]), nil)
				if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("the refused connection's answer: %v %v; expected 503", resp, err)
				}
			}
		})
	}
}

func TestAGoClientRefusedAtTheBoundIsAnswered503NotAnUnsolicitedResponse(t *testing.T) {
	b := startBounded(t, 1, 1)
	dialFrom(t, b.addr, "127.0.0.1").send(t, "/block")
	b.untilBlocked(t, 1)
	// net/http's Transport reads a new connection before it writes the
	// request; an answer there before the request is "unsolicited", and
	// the request fails.
	requireGoClientRefused(t, 50, "request", func(c *http.Client) (*http.Response, error) { return c.Get("http://" + b.addr + "/") })
}

// requireGoClientRefused requires n requests, each of a new net/http
// client of its own, to be answered 503.
func requireGoClientRefused(t *testing.T, n int, what string, do func(*http.Client) (*http.Response, error)) {
	t.Helper()
	for i := range n {
		resp, err := do(&http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}})
		if err != nil {
			t.Fatalf("%s %d at the bound: %v; expected a 503", what, i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s %d at the bound: %d; expected 503", what, i, resp.StatusCode)
		}
	}
}

// TestAFloodAtTheBoundIsRefusedWithFewGoroutinesAndOthersAreServedMeanwhile:
// a flood of connections that say nothing, at the bound, is refused with at
// most the 64 refusals answered at once (each waits for its request up to
// a second, the rest are closed unanswered), and they are gone once their
// grace has passed; an established client, and a new one, are served
// while it goes on. By condition, not by a clock: the flood goes on until
// both are answered (a server that served them only once refusals had
// waited out their grace never answers them), the goroutines are counted
// at each connection of it, and their going is waited for.
func TestAFloodAtTheBoundIsRefusedWithFewGoroutinesAndOthersAreServedMeanwhile(t *testing.T) {
	b := startBounded(t, 100, 1)
	flooder := dialFrom(t, b.addr, "127.0.0.1")
	flooder.send(t, "/block") // its one place, busy
	other := dialFrom(t, b.addr, "127.0.0.2")
	b.getIdle(t, other)
	b.untilBlocked(t, 1)
	before := runtime.NumGoroutine()

	f := startFlood(t, b.addr, before)
	f.untilDialed(t, 1000)
	other.getGuarded(t, "/") // an established client is answered during it
	// And the accept loop takes new connections, answered during it.
	late := dialFrom(t, b.addr, "127.0.0.3")
	late.getGuarded(t, "/")
	dialed, grown := f.stop(t)
	if grown > 64+16 {
		t.Errorf("goroutines grew by up to %d during a flood of %d refused connections; expected at most the 64 refusals answered at once and a few", grown, dialed)
	}
	// The flood's connections stay open, saying nothing: only the
	// refusals' grace ends those answered.
	var now int
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now-before <= 16 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines still %d more than before the flood %v after it, its connections silent and open; expected the refusals' gone after their grace", now-before, hangGuard)
		}
	}
}

// flood dials connections that say nothing to a server, from a goroutine
// of its own, until stopped, and keeps the most goroutines it saw above a
// count at each connection. It keeps its first 1000 connections open, and
// after them (dialed a millisecond apart) up to 1000 more, the oldest
// closed for each new one, until the test ends.
type flood struct {
	stopped, done chan struct{}
	dialed        atomic.Int64
	grown         int // the most goroutines seen above the count given
	err           error
	conns, ring   []net.Conn // its first 1000, and those after them kept open
}

// startFlood starts a flood of addr, counting the goroutines above before.
func startFlood(t *testing.T, addr string, before int) *flood {
	t.Helper()
	f := &flood{stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			select {
			case <-f.stopped:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", addr, hangGuard)
			if err != nil {
				f.err = err
				return
			}
			if len(f.conns) < 1000 {
				f.conns = append(f.conns, c)
			} else {
				// Paced: enough to keep refusals being answered, not a
				// port spent each few microseconds for as long as it lasts.
				time.Sleep(time.Millisecond)
				if len(f.ring) == 1000 {
					f.ring[0].Close()
					f.ring = f.ring[1:]
				}
				f.ring = append(f.ring, c)
			}
			f.dialed.Add(1)
			f.grown = max(f.grown, runtime.NumGoroutine()-before)
		}
	}()
	t.Cleanup(func() {
		f.stop(t)
		for _, c := range append(f.conns, f.ring...) {
			c.Close()
		}
	})
	return f
}

// untilDialed waits until the flood has dialed n connections.
func (f *flood) untilDialed(t *testing.T, n int64) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); f.dialed.Load() < n; time.Sleep(time.Millisecond) {
		select {
		case <-f.done:
			t.Fatalf("the flood stopped after %d connections: %v", f.dialed.Load(), f.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the flood dialed %d of %d connections within %v", f.dialed.Load(), n, hangGuard)
		}
	}
}

// stop stops the flood, and returns how many connections it dialed and
// the most goroutines it saw above its count; it fails the test if a dial
// failed.
func (f *flood) stop(t *testing.T) (dialed int64, grown int) {
	t.Helper()
	select {
	case <-f.stopped:
	default:
		close(f.stopped)
	}
	<-f.done
	if f.err != nil {
		t.Fatalf("dial %d of the flood: %v", f.dialed.Load()+1, f.err)
	}
	return f.dialed.Load(), f.grown
}

// getGuarded sends GET path on c and requires a 200, waiting for it up to
// hangGuard.
func (c *rawConn) getGuarded(t *testing.T, path string) {
	t.Helper()
	c.send(t, path)
	c.SetReadDeadline(time.Now().Add(hangGuard)) //nolint:errcheck
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("GET %s: read the answer: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s; expected 200", path, resp.StatusCode, body)
	}
}

func TestAnAppendWithALargeBodyRefusedAtTheBoundIsAnswered503NotReset(t *testing.T) {
	b := startBounded(t, 1, 1)
	dialFrom(t, b.addr, "127.0.0.1").send(t, "/block")
	b.untilBlocked(t, 1)
	body := bytes.Repeat([]byte("a"), 4<<20) // TRIBUTARY_MAX_BODY_BYTES' default
	requireGoClientRefused(t, 10, "append of 4 MiB", func(c *http.Client) (*http.Response, error) {
		return c.Post("http://"+b.addr+"/", "application/json", bytes.NewReader(body))
	})
}

func TestAKeptAliveConnectionThatSendsAByteOrTwoIsStillIdle(t *testing.T) {
	b := startBounded(t, 1, 1)
	c := dialFrom(t, b.addr, "127.0.0.1")
	b.getIdle(t, c)
	// Fewer bytes than net/http waits for before it reads a request (4):
	// its idle timeout still runs, and so the connection is still idle.
	if _, err := io.WriteString(c, "GE"); err != nil {
		t.Fatalf("send two bytes: %v", err)
	}
	b.untilTaken(t, c) // and net/http waits for more
	// Its client's own new one (at the server's bound, another's would wait
	// for it to be idle for SilentGrace).
	dialFrom(t, b.addr, "127.0.0.1").get(t, "/")
	if !c.closedByServer() {
		t.Fatalf("the connection that sent two bytes is still open after a new one took the only place; expected it closed as idle")
	}
}

// TestAtTheBoundASilentConnectionTakesThePlaceOfNoOneButGivesItsOwnUp: a
// connection that has sent nothing since it was opened (a browser's
// speculative one, or an attacker's) held its place until the header
// timeout, 10 s, and could not be closed for a new one: two addresses
// holding half the places each with silent connections, opened again as
// they were cut, locked every other client out, its health checks too. One
// silent for longer than the grace is closed for a new one, as an idle one
// is, the oldest first; one within the grace is not.
func TestAtTheBoundASilentConnectionTakesThePlaceOfNoOneButGivesItsOwnUp(t *testing.T) {
	b := startBounded(t, 2, 1)
	start := time.Now() // before the server accepts either
	// Each accepted (told new: silent from then) before the next is dialed.
	first := dialFrom(t, b.addr, "127.0.0.1")
	untilState(t, "the server accepted the first silent connection", func() bool { return b.told(http.StateNew) >= 1 })
	second := dialFrom(t, b.addr, "127.0.0.2")
	untilState(t, "the server accepted the second silent connection", func() bool { return b.told(http.StateNew) >= 2 })

	// Within the grace: refused. Judged only if its answer came within
	// SilentGrace of start: the server then judged it before either silent
	// one had been silent that long. Under load it may come later, when
	// closing one for it would be right.
	young := dialFrom(t, b.addr, "127.0.0.3")
	young.send(t, "/")
	young.SetReadDeadline(time.Now().Add(hangGuard)) //nolint:errcheck
	resp, err := http.ReadResponse(young.r, nil)
	if err != nil {
		t.Fatalf("a new connection while two at a bound of 2 are silent: read the answer: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	body := string(raw)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "none of them idle") {
		if resp.StatusCode != http.StatusOK || time.Since(start) < esthttp.SilentGrace {
			t.Fatalf("a new connection while two at a bound of 2 have been silent for less than %v: %d %s; want 503 naming none of them idle", esthttp.SilentGrace, resp.StatusCode, body)
		}
		t.Skipf("the new connection within the grace was answered %d only %v after the silent ones were opened, past the grace: nothing to judge under this load", resp.StatusCode, time.Since(start).Round(time.Millisecond))
	}

	// Past the grace (once the server has held them that long, later than
	// the test can tell under load; until then it rightly refuses 503): a
	// new connection takes the place of the one silent longest.
	refused := answeredWhenRoomIsMade(t, b.addr, "127.0.0.3", "GET / on a new connection while two at a bound of 2 have been silent",
		http.StatusOK, func(c *rawConn) error {
			_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n")
			return err
		})
	t.Logf("the new connection was refused %d times before a silent one was closed for it", refused)
	if !first.closedByServer() {
		t.Fatal("the connection silent longest is still open after a new one took its place; expected it closed")
	}
	// The other silent one is still there, and served once it speaks.
	second.get(t, "/")
}

func TestARefusalAtTheClientBoundIsLoggedWithTheClientsAddress(t *testing.T) {
	b := startBounded(t, 3, 1)
	dialFrom(t, b.addr, "127.0.0.2").send(t, "/block")
	b.untilBlocked(t, 1)
	c := dialFrom(t, b.addr, "127.0.0.2")
	c.send(t, "/")
	if resp, _ := c.answer(t); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a second connection from 127.0.0.2 at its bound of 1: %d; expected 503", resp.StatusCode)
	}
	// The first refusal since the server began is logged at once.
	for _, line := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		var entry struct {
			Msg, Bound, Client string
		}
		if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(entry.Msg, "connections refused") {
			if entry.Bound != "client" || entry.Client != "127.0.0.2" {
				t.Fatalf("the refusal's log line: bound %q, client %q; expected bound \"client\", client \"127.0.0.2\" (%s)", entry.Bound, entry.Client, line)
			}
			return
		}
	}
	t.Fatalf("no refusal logged; the log:\n%s", b.logs.String())
}

package http

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// Connections bounds the connections a server holds: all clients together,
// and each client (an address, an IPv6 one by its /64: no token is known
// before a request). Every connection holds a file and some memory while
// it is open, and one client keeping hundreds of idle keep-alive
// connections would otherwise take the files the process needs for
// everyone else's, and for its database: accept fails, and net/http backs
// off, with everyone waiting.
//
// At a bound, a new connection takes the place of the connection silent
// longest since it was opened, once for SilentGrace, or else of the one
// longest in its request's headers, once for SilentGrace (a client sends
// them at once; one that trickles them holds its place until
// TRIBUTARY_READ_HEADER_TIMEOUT, and is opened again), or else of the one
// longest receiving an append's body that has come more slowly than
// MinBodyRate since SilentGrace after its headers (a client sends a body
// as fast as its link goes; one that trickles it would hold its place
// until TRIBUTARY_READ_TIMEOUT: it is answered 408, nothing written), or
// else of the one idle longest (between requests, kept alive): the
// client's own at the client's bound, anyone's at the server's once idle
// for SilentGrace (one idle for less is a served client's between two of
// its requests), or else of the one serving a request longest whose
// response has waited on its client in one write for SilentGrace (it is
// cut). A client must expect a kept-alive connection to be closed, as at
// the idle timeout.
// Where none is, the new connection is answered 503 with Retry-After and
// closed. Those being answered are not counted, nor are the appends
// answered 408: at most maxRefusing of both, for refusalGrace each, are
// open beyond the bounds (past it, a refused connection, or an append
// closed for a new one, is closed unanswered), so the files held for
// clients are at most max plus maxRefusing.
//
// Serve the server on Listener's listener, and give ConnState to the
// server's ConnState.
type Connections struct {
	max, perClient int
	log            *slog.Logger
	m              *metrics.Metrics
	cors           func(http.Handler) http.Handler // CORS for the refusals (AllowOrigins), nil for none
	routes         chi.Routes                      // the API's routes, for the refusals' preflights (AllowOrigins)

	mu         sync.Mutex
	open       int
	idle       list.List // *trackedConn, idle longest first
	silent     list.List // *trackedConn, new and silent longest first
	heading    list.List // *trackedConn, in its request's headers longest first
	receiving  list.List // *trackedConn, receiving an append's body longest first
	responding list.List // *trackedConn, serving a request (but a subscription) longest first
	clients    map[string]*connClient
	pace       victimPace // of the walks of all clients' lists

	// draining is set by CloseWaiting: a connection net/http tells new
	// after it is closed at once, as those it found were.
	draining bool

	refusing  chan struct{} // bounds the refusals being written
	lastLog   time.Time     // of the last refusals logged
	reporting bool          // a report of them is due (reportRefusals)
	closed    bool          // the listener is closed: refusals are logged at once
	// The refusals since lastLog: at the server's bound; at the client's,
	// by client (of at most maxLoggedClients), and of any clients more.
	unreportedServer int
	unreported       map[string]int
	unreportedOthers int
}

// connClient is one client's connections.
type connClient struct {
	open       int
	idle       list.List  // *trackedConn, idle longest first
	silent     list.List  // *trackedConn, silent longest first
	heading    list.List  // *trackedConn, in its request's headers longest first
	receiving  list.List  // *trackedConn, receiving an append's body longest first
	responding list.List  // *trackedConn, serving a request longest first
	pace       victimPace // of the walks of its lists
}

// lists returns the client's lists of each kind (keptAlive, silent,
// heading, receiving, responding), in that order.
func (cl *connClient) lists() [5]*list.List {
	return [5]*list.List{&cl.idle, &cl.silent, &cl.heading, &cl.receiving, &cl.responding}
}

// lists returns all clients' lists of each kind, in that order.
func (c *Connections) lists() [5]*list.List {
	return [5]*list.List{&c.idle, &c.silent, &c.heading, &c.receiving, &c.responding}
}

// SilentGrace is how long a new connection may send nothing before, at a
// bound, it may be closed for another, as an idle one may: a client sends
// its request as soon as it connects, and a connection silent for longer is
// a browser's speculative one, or one held open to take a place (it would
// hold it until TRIBUTARY_READ_HEADER_TIMEOUT, and be opened again).
const SilentGrace = 2 * time.Second

// MinBodyRate is the rate, in bytes a second, below which an append's body,
// once SilentGrace has passed since its headers, may be closed at a bound
// for a new connection: a body that has come whole by then, or has come at
// this rate since, never is. A client sends a body as fast as its link
// goes (half a megabit a second is a poor mobile link's); one that trickles
// it, a byte now and then, would hold its place until
// TRIBUTARY_READ_TIMEOUT, and be opened again, and to hold a place it must
// now send this much, which the budget of bodies in flight also counts.
const MinBodyRate = 64 << 10

// The lists a connection waiting on its client is in (trackedConn.kind).
const (
	keptAlive  = iota // idle between requests
	silent            // new, and nothing read yet
	heading           // its request's headers arriving
	receiving         // an append's body arriving (receiveBody), until read to its end or the handler is done
	responding        // serving a request, its body read, until idle or closed; never a subscription (notResponding)
)

// victim returns the connection to close for a new one among lists (a
// client's or all: idle, silent, heading and receiving), or nil: the one
// silent longest if it has been for SilentGrace, or else the one longest in
// its headers if it has been for SilentGrace, or else the one receiving its
// body longest of those behind MinBodyRate (slowBody), or else the one idle
// longest if it has been for keptAliveGrace, or else the one serving a
// request longest whose response has waited on its client in one write for
// SilentGrace: a client that asked for a large page and reads it a byte now
// and then, or not at all, which would hold its place until the response's
// write deadline (TRIBUTARY_REQUEST_TIMEOUT and 5 s), unless its client has
// taken MinBodyRate a second of it since that grace (a write waits on the
// kernel's send buffer too, seconds for a steady reader on a slow link);
// a response waiting on the database writes nothing. A kept-alive
// connection has been a client's that was served; one silent or in its
// headers for seconds, or trickling its body, is rarely anyone's but an
// attacker's, who would otherwise take the served clients' places one
// after another. At the server's bound a
// kept-alive one too must have been idle for SilentGrace (keptAliveGrace):
// one idle for less is a served client's between two of its requests, and
// its next one would fail on it, for an attacker's new connection; at a
// client's own bound (0) it goes at once, the client having it to reuse.
// With pace (the lists' own), a walk of the bodies or of the responses
// that found none is not made again for victimWalkEvery: one that becomes
// one to close meanwhile is found that much later.
func victim(lists [5]*list.List, now time.Time, keptAliveGrace time.Duration, pace *victimPace) *trackedConn {
	for _, l := range lists[silent:receiving] {
		if e := l.Front(); e != nil && now.Sub(e.Value.(*trackedConn).since) >= SilentGrace {
			return e.Value.(*trackedConn)
		}
	}
	// Walked only at a bound, and only as far as the bodies begun
	// SilentGrace ago: each costs one atomic load, and a cache miss or
	// two (0.7 ms for 10,000, under c.mu): a walk that found nothing is
	// not made again for victimWalkEvery (pace), so that a flood of new
	// connections at a bound does not hold c.mu, which every
	// connection's state change takes.
	if pace == nil || !now.Before(pace.receiving) {
		for e := lists[receiving].Front(); e != nil; e = e.Next() {
			t := e.Value.(*trackedConn)
			late := now.Sub(t.since) - SilentGrace
			if late <= 0 {
				break // those after it began later still
			}
			if slowBody(t.bodyRead.Load(), late) {
				return t
			}
		}
		if pace != nil {
			pace.receiving = now.Add(victimWalkEvery)
		}
	}
	if e := lists[keptAlive].Front(); e != nil && now.Sub(e.Value.(*trackedConn).since) >= keptAliveGrace {
		return e.Value.(*trackedConn)
	}
	if pace != nil && now.Before(pace.responding) {
		return nil
	}
	if pace != nil {
		pace.responding = now.Add(victimWalkEvery) // unless it finds one (below)
	}
	for e := lists[responding].Front(); e != nil; e = e.Next() {
		t := e.Value.(*trackedConn)
		if now.Sub(t.since) < SilentGrace {
			break // those after it began later still
		}
		waiting := t.writingSince.Load()
		if waiting == 0 || now.Sub(time.Unix(0, waiting)) < SilentGrace {
			continue
		}
		// A write waits on the kernel too, which wakes it only once much
		// of its send buffer (megabytes, autotuned) has drained: seconds
		// for a client reading steadily on a slow link. One whose client
		// has taken MinBodyRate a second since the grace, as a body must
		// come, is not waiting on one that reads nothing.
		if t.acked != nil {
			n, ok := t.acked()
			at := t.ackedAtWrite.Load()
			if t.writingSince.Load() != waiting {
				// The write ended, and maybe the next began (Write stores
				// its ackedAtWrite first), as it was judged: at is not
				// its start's, and it is not waiting.
				continue
			}
			if ok && !slowBody(int64(n-at), now.Sub(time.Unix(0, waiting))-SilentGrace) {
				continue
			}
		}
		if pace != nil {
			pace.responding = time.Time{} // the next may find another
		}
		return t
	}
	return nil
}

// victimPace is when the walks of one set of lists (a client's, or all)
// that found nothing may be made again (victim).
type victimPace struct{ receiving, responding time.Time }

// victimWalkEvery is how long a walk that found nothing is not made again.
const victimWalkEvery = 100 * time.Millisecond

// slowBody reports whether a body of which read bytes have come, late past
// its SilentGrace, is behind MinBodyRate.
func slowBody(read int64, late time.Duration) bool {
	return read < int64(late)*MinBodyRate/int64(time.Second)
}

// NewConnections bounds connections at max in all and perClient for each
// client (both at least 1; perClient at most max).
func NewConnections(max, perClient int, log *slog.Logger, m *metrics.Metrics) *Connections {
	c := &Connections{max: max, perClient: min(perClient, max), log: log, m: m,
		clients: make(map[string]*connClient), refusing: make(chan struct{}, maxRefusing),
		unreported: make(map[string]int)}
	m.ConnectionsOpen(func() int64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return int64(c.open)
	})
	return c
}

// maxRefusing bounds the refused connections being answered at once; past
// it, a refused connection is closed unanswered.
const maxRefusing = 64

// refusalGrace bounds how long a refused connection is written to and read
// from (its request, read so that closing does not reset the connection
// before the client has read the answer).
const refusalGrace = time.Second

// refusalLogEvery is how often refusals are logged, at most.
const refusalLogEvery = 10 * time.Second

// maxLoggedClients bounds the clients whose refusals are logged each by
// its address in one report; those of any more are logged together.
const maxLoggedClients = 16

// Listener returns ln with its connections bounded.
func (c *Connections) Listener(ln net.Listener) net.Listener { return &boundedListener{ln, c} }

type boundedListener struct {
	net.Listener
	c *Connections
}

// Accept returns the next connection that the bounds admit, answering and
// closing those they do not.
func (l *boundedListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.c.admit(conn); tc != nil {
			return tc, nil
		}
	}
}

// Close closes the listener and logs the refusals not yet logged: a stop
// (Shutdown's close, Close's, a failed Serve's) within refusalLogEvery of
// the last line otherwise lost those held for the next, and the log said
// fewer than the metric. Any refused after it (an Accept under way) are
// logged at once.
func (l *boundedListener) Close() error {
	err := l.Listener.Close()
	l.c.mu.Lock()
	l.c.closed, l.c.reporting = true, false // a report still due finds none
	r := l.c.takeRefusals()
	l.c.mu.Unlock()
	l.c.logRefusals(r)
	return err
}

// trackedConn is an admitted connection, counted until it is closed.
type trackedConn struct {
	net.Conn
	c       *Connections
	client  string
	idle    *list.Element // in c's list of its kind while waiting on its client
	ownIdle *list.Element // in its client's list of its kind likewise
	kind    int           // keptAlive, silent or heading: the lists idle and ownIdle are in
	since   time.Time     // when it was opened, for a silent one; when its headers began, for a heading one
	gone    bool          // its place is given back (c.mu): never idle again
	// idleNow is idle != nil, read without c.mu by Read; idleRead counts
	// the bytes read since it was set.
	idleNow  atomic.Bool
	idleRead atomic.Int64
	// shut is set, under c.mu, once admit has closed it to make room, or
	// ConnState as closeWhenIdle asked: a read that returns after it hands
	// nothing on, and a request parsed after it is not handled (connShut).
	shut atomic.Bool
	// closeIdle is set by closeWhenIdle: it is closed, not kept alive, as
	// soon as net/http says it idle.
	closeIdle atomic.Bool
	// framing notes the header blocks read that said Transfer-Encoding
	// (framingOf).
	framing framingLog
	// bodyRead counts the bytes of the body being received (receiving),
	// as its handler reads them.
	bodyRead atomic.Int64
	// evictedAt is the bound ("server" or "client") a body being received
	// was closed at for a new connection, set under c.mu before shut.
	evictedAt string
	// While it is responding (watched), writingSince is when a write still
	// waiting on its client began (Unix nanoseconds), 0 for none.
	watched      atomic.Bool
	writingSince atomic.Int64
	// acked reports the bytes the peer has acknowledged (ackedBytes), nil
	// where that cannot be told; ackedAtWrite is what it reported as the
	// write waiting since writingSince began.
	acked        func() (uint64, bool)
	ackedAtWrite atomic.Uint64
	// answering: closed for a new connection as its body trickled, it
	// answers its 408 in one of the refusals' places (c.refusing), until
	// it is closed (endAnswering).
	answering atomic.Bool
}

// requestBegun is how many bytes net/http waits for on an idle connection
// (bufio.Reader.Peek(4)) before it reads a request, and its idle timeout
// gives way to the header timeout.
const requestBegun = 4

// Read takes the connection off the idle lists once its next request
// begins to arrive: net/http says it is active only once it has read the
// request's headers, and closing it in between would cut a request, as its
// own idle timeout never does. A byte or two is not yet a request: net/http
// waits for more under the idle timeout, and so the connection stays idle.
//
// A read whose bytes came as admit closed the connection to make room
// hands nothing on: net/http would serve the request on a closed
// connection, an append written and its answer lost.
func (t *trackedConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n == 0 {
		return n, err
	}
	if t.idleNow.Load() && t.idleRead.Add(int64(n)) >= requestBegun {
		t.c.mu.Lock()
		shut := t.shut.Load()
		t.c.unidle(t)
		if !shut && !t.gone {
			// Its request's headers are arriving, until net/http has
			// read them all (ConnState, StateActive).
			t.c.wait(t, heading)
		}
		t.c.mu.Unlock()
		if shut {
			return 0, net.ErrClosed
		}
	}
	if t.shut.Load() {
		return 0, net.ErrClosed
	}
	t.framing.read(p[:n])
	return n, err
}

// Write writes p, but for net/http's own plain-text answer to a
// Transfer-Encoding it does not take (gzip, chunked; identity; the header
// given twice), which it writes to the connection in one Write before any
// handler runs and then closes the connection: that is written as a
// problem instead (unsupportedTransferEncoding), as every other error is.
// Any other write is one of a response, which net/http begins with its
// headers in sorted order (Connection before Content-Type, and a Date),
// never so; each costs one comparison of its first bytes.
func (t *trackedConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, netHTTPUnsupportedTE) {
		if _, err := t.Conn.Write(unsupportedTransferEncoding()); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if !t.watched.Load() {
		return t.Conn.Write(p)
	}
	if t.acked != nil {
		// What the client has taken so far: a write that waits is judged
		// by what it takes meanwhile (victim). One getsockopt a write.
		if n, ok := t.acked(); ok {
			t.ackedAtWrite.Store(n)
		}
	}
	t.writingSince.Store(time.Now().UnixNano())
	defer t.writingSince.Store(0)
	return t.Conn.Write(p)
}

// netHTTPUnsupportedTE is how net/http's answer to a Transfer-Encoding it
// does not take begins (go1.26 server.go, serve: errorHeaders).
var netHTTPUnsupportedTE = []byte("HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// unsupportedTransferEncoding is the answer to a request whose
// Transfer-Encoding net/http does not take: a whole HTTP/1.1 response,
// since no handler runs, a problem like any other error's, the connection
// closed (net/http closes it after).
func unsupportedTransferEncoding() []byte {
	body, _ := json.Marshal(map[string]any{ // strings and a number: cannot fail
		"type": ProblemBase + "not-implemented", "title": "Not implemented", "status": http.StatusNotImplemented,
		"detail": "this request's Transfer-Encoding is not one this server takes: send a body with Content-Length, or with " +
			"Transfer-Encoding: chunked alone, given once (to compress it, Content-Encoding: gzip)",
	})
	return []byte("HTTP/1.1 501 Not Implemented\r\n" +
		"Content-Type: application/problem+json\r\n" +
		"X-Content-Type-Options: nosniff\r\n" + // as on every answer of the service
		"Cache-Control: no-store\r\n" + // as on every problem (noStore)
		"X-Request-Id: " + uuid.NewString() + "\r\n" + // likewise (no handler ran: a new one)
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
}

// Close gives the connection's place back.
func (t *trackedConn) Close() error {
	t.c.release(t)
	err := t.Conn.Close()
	t.endAnswering()
	return err
}

// endAnswering gives back the place among the refusals being answered that
// t held to answer its 408 (admit), once.
func (t *trackedConn) endAnswering() {
	if t.answering.CompareAndSwap(true, false) {
		<-t.c.refusing
	}
}

// connShut reports whether the connection a request came on (ConnContext)
// was closed to make room for another. net/http parses a pipelined request
// already whole in its buffer without reading the connection, and says it
// is active only once it has: in between, the connection is still listed
// idle, and may be closed under the request.
func connShut(ctx context.Context) bool {
	t, ok := ctx.Value(connKey{}).(*trackedConn)
	return ok && t.shut.Load()
}

// closeWhenIdle has the connection a request came on (ConnContext) closed
// as soon as its answer has ended, net/http saying it idle (ConnState), as
// net/http closes one whose answer said Connection: close. Nothing where
// the connection is not tracked.
func closeWhenIdle(ctx context.Context) {
	if t, ok := ctx.Value(connKey{}).(*trackedConn); ok {
		t.closeIdle.Store(true)
	}
}

// writable returns what to write a vector to for conn: the socket under a
// tracked connection, since net.Buffers writes a vector in one system call
// (writev) only to a socket of net's own. Its Close still goes through conn.
func writable(conn net.Conn) io.Writer {
	if t, ok := conn.(*trackedConn); ok {
		return t.Conn
	}
	return conn
}

// SyscallConn, CloseWrite and ReadFrom pass through to the connection, for
// what looks for them: the subscriptions' progress (stall.go), net/http's
// lingering close and its sendfile.
func (t *trackedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := t.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, fmt.Errorf("%T has no file descriptor", t.Conn)
}

func (t *trackedConn) CloseWrite() error {
	if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (t *trackedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := t.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(t.Conn, r)
}

// connClientKey names the client of a connection from its address.
func connClientKey(addr net.Addr) string {
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		return netip.PrefixFrom(ip, 64).Masked().String()
	}
	return ip.String()
}

// clientBound names the bound a client at its own bound has reached:
// "client", or "server" where the per-client bound is the server's
// (TRIBUTARY_MAX_CONNECTIONS=1 gives both one), so that a refusal names
// the setting the operator set, not a default derived from it.
func (c *Connections) clientBound() string {
	if c.perClient >= c.max {
		return "server"
	}
	return "client"
}

// admit returns conn tracked, having closed the connection in its way if a
// bound is reached (victim), or nil, having refused conn, if none may be
// closed.
func (c *Connections) admit(conn net.Conn) net.Conn {
	key := connClientKey(conn.RemoteAddr())
	c.mu.Lock()
	cl := c.clients[key]
	if cl == nil {
		cl = &connClient{}
		c.clients[key] = cl
	}
	var v *trackedConn
	refused := ""
	switch now := time.Now(); {
	case cl.open >= c.perClient:
		if v = victim(cl.lists(), now, 0, &cl.pace); v == nil {
			refused = c.clientBound()
		}
	case c.open >= c.max:
		if v = victim(c.lists(), now, SilentGrace, &c.pace); v == nil {
			refused = "server"
		}
	}
	if refused != "" {
		if cl.open == 0 {
			delete(c.clients, key)
		}
		c.mu.Unlock()
		c.refuse(conn, refused, key)
		return nil
	}
	body := v != nil && v.kind == receiving
	if v != nil {
		if body {
			v.evictedAt = "server"
			if cl.open >= c.perClient {
				v.evictedAt = c.clientBound()
			}
		}
		// Its place goes to conn now, not when its Close runs. Shut
		// first: a read that finds it no longer idle (unidle) must find
		// it shut, and hand nothing on.
		v.shut.Store(true)
		c.unidle(v)
		c.releaseLocked(v)
	}
	c.open++
	cl.open++
	c.clients[key] = cl // again: the victim's release deletes a client it leaves with none
	c.mu.Unlock()
	switch {
	case body:
		// Its body's read fails at once (receiveBody): the append is
		// answered 408, nothing written, and net/http closes the
		// connection after it (half a second after, its lingering
		// close); or, if that has not happened within refusalGrace, it
		// is closed unanswered. Open beyond the bounds meanwhile, it is
		// counted as a refusal being answered is: past maxRefusing, it is
		// closed at once, unanswered, or the files held for clients would
		// grow past max and maxRefusing with every append so closed.
		v.Conn.SetReadDeadline(time.Unix(1, 0)) //nolint:errcheck // a connection already closed
		select {
		case c.refusing <- struct{}{}:
			v.answering.Store(true)
			time.AfterFunc(refusalGrace, func() { v.Conn.Close(); v.endAnswering() })
		default:
			v.Conn.Close()
		}
		c.m.ConnectionClosedIdle()
	case v != nil:
		v.Conn.Close() // net/http's read on it fails (a response's write: it is cut), and it lets it go
		c.m.ConnectionClosedIdle()
	}
	return &trackedConn{Conn: conn, c: c, client: key, acked: ackedBytes(conn)}
}

// receiveBody lists the connection of the request of ctx (ConnContext) as
// receiving its body, from now until received, and returns it, or nil if
// it is not a tracked connection or no longer holds a place. At a bound it
// may be closed for a new connection while its body is behind MinBodyRate:
// its reads then fail with bodyTooSlow.
func receiveBody(ctx context.Context) *trackedConn {
	t, ok := ctx.Value(connKey{}).(*trackedConn)
	if !ok {
		return nil
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.gone || t.idle != nil && t.kind != responding {
		return nil
	}
	t.c.unidle(t)
	t.bodyRead.Store(0)
	t.c.wait(t, receiving)
	return t
}

// notResponding takes the connection of the request of ctx off the
// responding lists: a subscription's, which writes as events come, and
// whose client may read slowly (a stalled one is cut at
// TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT).
func notResponding(ctx context.Context) {
	t, ok := ctx.Value(connKey{}).(*trackedConn)
	if !ok {
		return
	}
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.idle != nil && t.kind == responding {
		t.c.unidle(t)
	}
}

// received takes t, whose body is read to its end or no longer read, off
// the receiving lists, and reports whether it was closed for a new
// connection first (its body's reads are then to fail, and no request on it
// is to be served: bodyTooSlow).
func (c *Connections) received(t *trackedConn) (evicted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.idle != nil && t.kind == receiving {
		c.unidle(t)
		if !t.shut.Load() && !t.gone {
			c.wait(t, responding)
		}
	}
	return t.shut.Load()
}

// bodyTooSlow is the error of a body's read on t once t was closed for a
// new connection (receiveBody): the 408 of an append not written.
func (t *trackedConn) bodyTooSlow() error {
	held := fmt.Sprintf("this server held %s (TRIBUTARY_MAX_CONNECTIONS), the most it takes", count(t.c.max, "connection"))
	if t.evictedAt == "client" {
		held = fmt.Sprintf("this client's address held %s to this server (TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT), the most one address may", count(t.c.perClient, "connection"))
	}
	return &detailError{kind: errRequestTimeout, detail: fmt.Sprintf("the body came more slowly than %d bytes a second while %s: "+
		"its connection was closed for a new one; nothing was written: send it again", MinBodyRate, held)}
}

// ConnState is the server's ConnState: it tells which connections are idle.
func (c *Connections) ConnState(conn net.Conn, state http.ConnState) {
	t, ok := conn.(*trackedConn)
	if !ok {
		return
	}
	if state == http.StateIdle && t.closeIdle.Load() {
		// Shut, as admit's are: a request the client pipelined behind
		// the answer is in net/http's buffer already, and net/http parses
		// it without reading the closed connection; its handler must do
		// nothing (connShut), an append written and its answer lost.
		c.mu.Lock()
		t.shut.Store(true)
		c.mu.Unlock()
		t.Close() //nolint:errcheck // net/http's next read finds it closed, and says so (StateClosed)
		return
	}
	c.mu.Lock()
	if state == http.StateNew && c.draining && !t.gone {
		// Accepted as the drain began, and told new only after
		// CloseWaiting: on no list then, it would hold the drain until
		// net/http took it for idle, 5 s old. It is closed as those were.
		t.shut.Store(true)
		c.unidle(t)
		c.releaseLocked(t)
		c.mu.Unlock()
		t.Conn.Close()
		return
	}
	defer c.mu.Unlock()
	c.unidle(t)
	switch {
	case t.gone:
	case state == http.StateIdle:
		c.wait(t, keptAlive)
		t.idleRead.Store(0)
		t.idleNow.Store(true)
	case state == http.StateActive:
		// Serving a request from now until idle: at a bound, it may be
		// closed for a new connection while its response waits on a client
		// that does not read (victim).
		c.wait(t, responding)
	case state == http.StateNew:
		// Silent until its first byte (the start of its request, which
		// net/http reads at once): any byte takes it off.
		c.wait(t, silent)
		t.idleRead.Store(requestBegun - 1)
		t.idleNow.Store(true)
	}
}

// CloseWaiting closes the connections that have sent no whole request yet
// (silent, or in their request's headers), for a drain (give it to the
// server's RegisterOnShutdown): http.Server.Shutdown waits for a new
// connection until it is 5 s old, and so a browser's speculative one, a
// probe's, or one trickling its headers held an idle server's stop for
// 5 s. None has a request to answer; a connection whose request net/http
// has read whole, not yet told active, is shut as admit's are, so that its
// handler does nothing (connShut). One that net/http tells new after it
// (accepted as the drain began) is closed likewise, at once (ConnState);
// those that come after the listener's close are net/http's.
func (c *Connections) CloseWaiting() {
	c.mu.Lock()
	c.draining = true
	var waiting []*trackedConn
	for _, l := range []*list.List{&c.silent, &c.heading} {
		for e := l.Front(); e != nil; e = e.Next() {
			waiting = append(waiting, e.Value.(*trackedConn))
		}
	}
	for _, t := range waiting {
		t.shut.Store(true) // before unidle, as in admit
		c.unidle(t)
		c.releaseLocked(t)
	}
	c.mu.Unlock()
	for _, t := range waiting {
		t.Conn.Close()
	}
}

// wait puts t, on no list, on the lists of kind: it waits on its client,
// and may be closed for a new connection at a bound (victim); c.mu is held.
func (c *Connections) wait(t *trackedConn, kind int) {
	t.kind, t.since = kind, time.Now()
	t.idle, t.ownIdle = c.lists()[kind].PushBack(t), c.clients[t.client].lists()[kind].PushBack(t)
	if kind == responding {
		t.watched.Store(true)
	}
}

// unidle takes t off the lists of connections waiting on their clients;
// c.mu is held.
func (c *Connections) unidle(t *trackedConn) {
	if t.idle == nil {
		return
	}
	c.lists()[t.kind].Remove(t.idle)
	c.clients[t.client].lists()[t.kind].Remove(t.ownIdle)
	t.idle, t.ownIdle = nil, nil
	t.idleNow.Store(false)
	t.watched.Store(false)
}

// release gives t's place back, once, whoever closes it first: net/http,
// or admit making room (under c.mu alone: a lock of t's own, taken in the
// other order by admit, deadlocked the two).
func (c *Connections) release(t *trackedConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.gone {
		return
	}
	c.unidle(t)
	c.releaseLocked(t)
}

// releaseLocked gives t's place back; c.mu is held and t is not idle.
func (c *Connections) releaseLocked(t *trackedConn) {
	t.gone = true
	c.open--
	cl := c.clients[t.client]
	if cl.open--; cl.open == 0 {
		delete(c.clients, t.client)
	}
}

// refuse answers conn, of client, 503, reads what it sent for a moment,
// and closes it, on a goroutine of its own, or closes it at once if enough
// refusals are being answered already.
func (c *Connections) refuse(conn net.Conn, bound, client string) {
	c.m.ConnectionRefused(bound)
	c.logRefusal(bound, client)
	select {
	case c.refusing <- struct{}{}:
	default:
		conn.Close()
		return
	}
	go func() {
		defer func() { <-c.refusing }()
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(refusalGrace)) //nolint:errcheck // a failed write is a client gone
		// Answer only once the request is in: an answer that comes before
		// is one no request asked for, which net/http's Transport, reading
		// a new connection before its request goes, drops with an error.
		head, ok := readHeaders(io.LimitReader(conn, maxRefusalHeaderBytes))
		if !ok {
			return
		}
		answer := c.refusal
		cors, preflight := c.corsLines(head)
		switch method := livenessProbe(head); {
		case preflight:
			answer = preflightAnswer
		case method != "":
			answer = func(_, cors string) []byte { return aliveAnswer(method, cors) }
		}
		out := answer(bound, cors)
		if bytes.HasPrefix(bytes.TrimLeft(head, "\r\n"), []byte("HEAD ")) {
			// A HEAD's answer says its Content-Length and sends no
			// content (RFC 9110 §9.3.2): a client that keeps the
			// connection would read it as the next response.
			out, _, _ = bytes.Cut(out, []byte("\r\n\r\n"))
			out = append(out, "\r\n\r\n"...)
		}
		if _, err := conn.Write(out); err != nil {
			return
		}
		if cw, ok := conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite() //nolint:errcheck
		}
		// Read what else it sends (an append's body) until it closes: closed
		// with bytes unread, the connection would be reset, and a reset
		// takes the answer from a client that has yet to read it (one still
		// writing its body). Bounded by the grace, and by maxRefusalDrain.
		io.Copy(io.Discard, io.LimitReader(conn, maxRefusalDrain)) //nolint:errcheck // until the client closes, or the grace ends
	}()
}

// maxRefusalHeaderBytes bounds what is read of a refused connection before
// it is answered: its request's headers.
const maxRefusalHeaderBytes = 64 << 10

// maxRefusalDrain bounds what is read of a refused connection once it is
// answered: twice TRIBUTARY_MAX_BODY_BYTES' default.
const maxRefusalDrain = 8 << 20

// readHeaders reads r up to the blank line that ends a request's headers
// and returns what it read of them, and whether they came, or r ended
// after sending maxRefusalHeaderBytes, to be answered anyway.
func readHeaders(r io.Reader) ([]byte, bool) {
	var buf [4096]byte
	var last [2]byte // the last two bytes read before buf's
	var head []byte
	n := 0
	for {
		m, err := r.Read(buf[:])
		for i, b := range buf[:m] {
			// "\n\n" or "\n\r\n": net/http takes a bare LF as a line's end.
			if b == '\n' && (last[1] == '\n' || last[1] == '\r' && last[0] == '\n') {
				return append(head, buf[:i+1]...), true
			}
			last[0], last[1] = last[1], b
		}
		head = append(head, buf[:m]...)
		if n += m; err != nil {
			return head, n >= maxRefusalHeaderBytes
		}
	}
}

// refusal is the answer to a connection refused at bound ("client" or
// "server"): a whole HTTP/1.1 response, since no request has been read,
// with cors, the CORS header lines for its request (corsLines).
func (c *Connections) refusal(bound, cors string) []byte {
	detail := fmt.Sprintf("this server already holds %s (TRIBUTARY_MAX_CONNECTIONS), the most it takes, none of them idle nor silent for long; try again shortly or another instance", count(c.max, "connection"))
	if bound == "client" {
		detail = fmt.Sprintf("this client's address already holds %s to this server (TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT), the most one address may, none of them idle nor silent for long; reuse them, or close some", count(c.perClient, "connection"))
	}
	body, _ := json.Marshal(map[string]any{ // strings and a number: cannot fail
		"type": ProblemBase + "unavailable", "title": "Service unavailable", "status": http.StatusServiceUnavailable, "detail": detail,
	})
	return []byte("HTTP/1.1 503 Service Unavailable\r\n" +
		"Content-Type: application/problem+json\r\n" +
		"X-Content-Type-Options: nosniff\r\n" + // as on every answer of the service
		"Cache-Control: no-store\r\n" + // as on every problem (noStore)
		"X-Request-Id: " + uuid.NewString() + "\r\n" + // likewise (no request was read: a new one)
		"Retry-After: " + retryAfter(errTooManyConnections) + "\r\n" +
		cors +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body))
}

// logRefusal logs a refusal of client at bound at once if none was logged
// in the last refusalLogEvery, or else with any others by then, at its
// end: each line says how many were refused at its bound since the last,
// and a client's bound's line whose address (an IPv6 one's /64), so that
// an operator can find it.
func (c *Connections) logRefusal(bound, client string) {
	c.mu.Lock()
	switch _, named := c.unreported[client]; {
	case bound == "server":
		c.unreportedServer++
	case named || len(c.unreported) < maxLoggedClients:
		c.unreported[client]++
	default:
		c.unreportedOthers++
	}
	if c.reporting {
		c.mu.Unlock()
		return
	}
	if wait := time.Until(c.lastLog.Add(refusalLogEvery)); wait > 0 && !c.closed {
		c.reporting = true
		c.mu.Unlock()
		time.AfterFunc(wait, c.reportRefusals)
		return
	}
	r := c.takeRefusals()
	c.mu.Unlock()
	c.logRefusals(r)
}

// reportRefusals logs the refusals since the last line.
func (c *Connections) reportRefusals() {
	c.mu.Lock()
	c.reporting = false
	r := c.takeRefusals()
	c.mu.Unlock()
	c.logRefusals(r)
}

// refusals are the refusals of one report.
type refusals struct {
	server, others int
	clients        map[string]int
}

// takeRefusals returns the refusals not yet logged and counts them logged
// now; c.mu is held.
func (c *Connections) takeRefusals() refusals {
	r := refusals{server: c.unreportedServer, others: c.unreportedOthers, clients: c.unreported}
	c.unreportedServer, c.unreportedOthers, c.unreported = 0, 0, make(map[string]int)
	c.lastLog = time.Now()
	return r
}

func (c *Connections) logRefusals(r refusals) {
	const msg = "connections refused: at the bound, with none idle or silent to close"
	if r.server > 0 {
		c.log.Warn(msg, "bound", "server", "limit", c.max, "setting", "TRIBUTARY_MAX_CONNECTIONS", "refused", r.server)
	}
	clients := slices.Sorted(maps.Keys(r.clients))
	for _, client := range clients {
		c.log.Warn(msg, "bound", "client", "client", client, "limit", c.perClient, "setting", "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT", "refused", r.clients[client])
	}
	if r.others > 0 {
		c.log.Warn(msg, "bound", "client", "client", fmt.Sprintf("others than the %d above", len(clients)), "limit", c.perClient, "setting", "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT", "refused", r.others)
	}
}

// AllowOrigins has the refusals answer CORS for pages on origins
// (TRIBUTARY_CORS_ORIGINS), as the API's other answers do: a page could
// otherwise read neither the refusal nor its Retry-After. Call it before
// the listener accepts.
func (c *Connections) AllowOrigins(origins []string) {
	c.cors = corsHandler(origins)
	c.routes = apiRoutes(c.m)
}

// corsLines are the header lines that corsHandler, the API's own CORS
// middleware, adds for the request whose head is head, "" for none (no
// origins allowed, no Origin header, an origin not listed, a head that
// does not parse), and whether the request is a CORS preflight that it
// allows (preflightAnswer): only where the API's routes serve the method
// asked for on its path, as options allows it. Never
// Access-Control-Max-Age: a browser is not to keep an answer of the bound's.
func (c *Connections) corsLines(head []byte) (string, bool) {
	if c.cors == nil || !bytes.Contains(bytes.ToLower(head), []byte("origin:")) {
		return "", false
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		return "", false
	}
	rec := headerRecorder{}
	c.cors(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, r)
	http.Header(rec).Del("Access-Control-Max-Age")
	if m := r.Header.Get("Access-Control-Request-Method"); r.Method == http.MethodOptions && m != "" &&
		!slices.Contains(strings.Split(allowed(c.routes, routingPath(withUnreservedDecoded(withRootPath(r)))), ", "), m) {
		// As options refuses it, its path taken as ServeHTTP routes it
		// (/%65vents is /events): a path no route serves (the API's 404),
		// or a method the path does not serve (its 405). It meets the
		// refusal, as any request past the bounds, allowing nothing.
		refusePreflight(http.Header(rec))
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(rec)) {
		for _, v := range rec[name] {
			b.WriteString(name + ": " + v + "\r\n")
		}
	}
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" &&
		http.Header(rec).Get("Access-Control-Allow-Origin") != ""
	return b.String(), preflight
}

// livenessProbe returns the method of head's request if it is a GET or a
// HEAD of /healthz that takes its JSON and sends no condition, or "". A
// liveness probe refused at a bound (503) would have its orchestrator
// restart an instance only at its peak, cutting every subscription it
// holds: it is answered as the handler does (aliveAnswer).
func livenessProbe(head []byte) string {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	method, rest, _ := bytes.Cut(bytes.TrimSuffix(line, []byte("\r")), []byte(" "))
	target, _, _ := bytes.Cut(rest, []byte(" "))
	if string(target) != "/healthz" || string(method) != http.MethodGet && string(method) != http.MethodHead {
		return ""
	}
	// Accept: text/event-stream alone is an EventSource given the wrong
	// URL, which the handler answers 406 (refuseEventStream), not a probe.
	// Nor is a request with If-Match or If-None-Match, which the handler
	// may answer 412 or 304 (tagless), and which no probe sends: it was
	// answered 200 here. Refused 503 as any other, it is told nothing the
	// handler would not say (a 503 is answered whatever the conditions).
	lower := bytes.ToLower(head)
	if bytes.Contains(lower, []byte("text/event-stream")) || bytes.Contains(lower, []byte("if-match")) ||
		bytes.Contains(lower, []byte("if-none-match")) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil || wantsOnlyEvents(r) {
			return ""
		}
		_, im := r.Header["If-Match"]
		_, inm := r.Header["If-None-Match"]
		if im || inm {
			return ""
		}
	}
	return string(method)
}

// aliveAnswer is /healthz's answer on a refused connection, to a request of
// method, with cors, its CORS header lines: the handler's 200, and the
// connection closed after it. It costs nothing more than the refusal. It
// says how it may be cached as the handler's does (cacheControl, and
// varyOnAccept: an event stream alone is answered 406), or a shared cache
// could keep it, and give it to an EventSource.
func aliveAnswer(method, cors string) []byte {
	const body = `{"status":"ok"}`
	answer := "HTTP/1.1 200 OK\r\n" +
		"Content-Type: application/json\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Cache-Control: no-cache\r\n" +
		"X-Request-Id: " + uuid.NewString() + "\r\n" +
		cors +
		"Vary: Accept\r\n" +
		"Connection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if method == http.MethodGet {
		answer += body
	}
	return []byte(answer)
}

// preflightAnswer is the answer to an allowed CORS preflight on a refused
// connection: the 204 the API would give it, with cors, its CORS header
// lines, and the connection closed after. A browser takes a preflight
// answered otherwise for a network error, so a page sending a token could
// read neither the refusal nor its Retry-After; the request that follows,
// on a connection of its own, meets the refusal, which it can read. It
// costs nothing more than the refusal: no handler runs.
func preflightAnswer(_, cors string) []byte {
	return []byte("HTTP/1.1 204 No Content\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Cache-Control: no-store\r\n" +
		"X-Request-Id: " + uuid.NewString() + "\r\n" +
		cors +
		"Connection: close\r\n\r\n")
}

// apiRoutes is the API's router as routes lists it, never served: what
// answers without the handler (a refused connection's preflight, corsLines)
// allows what the API allows, on the paths it serves. m: /metrics is a
// route where the server is given it.
func apiRoutes(m *metrics.Metrics) chi.Routes {
	s := &Server{opts: Options{Metrics: m}}
	s.routes()
	return s.router
}

// headerRecorder is the http.ResponseWriter of corsLines: only its header.
type headerRecorder http.Header

func (h headerRecorder) Header() http.Header         { return http.Header(h) }
func (h headerRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (h headerRecorder) WriteHeader(int)             {}

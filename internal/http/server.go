// Package http serves Tributary's HTTP API (see api/openapi.yaml) over an
// eventstore.Store. Import it as esthttp next to net/http.
package http

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/metrics"
)

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body (413 past it).
	MaxBodyBytes int64
	// MaxBodyBytesInFlight bounds the bytes of request bodies being
	// received at once, all clients together (503 past it): a client that
	// sends a large body slowly, or stops halfway, holds what it sent until
	// its read timeout.
	MaxBodyBytesInFlight int64
	// MaxClientBytesInFlight bounds the bytes of request bodies one client
	// is sending at once (503 past it), a client as for
	// MaxSubscribersPerClient, so that one client cannot take the whole
	// MaxBodyBytesInFlight. Zero: half of it; at least MaxBodyBytes.
	MaxClientBytesInFlight int64
	// MaxBatch bounds the events of one append (413 past it).
	MaxBatch int
	// OpenAPI is the contract served at /openapi.yaml.
	OpenAPI []byte
	// Feed serves subscriptions; without it they are answered 503.
	Feed Feed
	// FeedStaleAfter is how long the live feed may go without reading the
	// log successfully (Feed.LastPoll) before /readyz's body says it is
	// stalled (default 30 s).
	FeedStaleAfter time.Duration
	// Metrics records what the server does and serves /metrics (with a read
	// token when access control is on); nil records nothing and serves none.
	Metrics *metrics.Metrics
	// Heartbeat is how often an idle subscription gets a keep-alive comment.
	Heartbeat time.Duration
	// StallTimeout is how long a subscription's connection may take no
	// bytes before it is cut (default 30 s, and at least two heartbeats).
	StallTimeout time.Duration
	// Tokens, when not empty, turn access control on: every endpoint but
	// /healthz, /readyz, the page at /, /openapi.yaml and an OPTIONS then
	// needs one of them.
	Tokens []Token
	// Access, when not nil, is access control in place of Tokens: a set
	// its owner may Replace while the server serves.
	Access *Access
	// MaxEventBytes bounds one event's data plus metadata (413 past it).
	MaxEventBytes int
	// MaxSubscribers bounds the subscriptions open at once (503 past it).
	MaxSubscribers int
	// MaxSubscribersPerClient bounds the subscriptions one client holds at
	// once (503 past it): a client is a token where access control is on,
	// else an address (an IPv6 one by its /64). Zero: half MaxSubscribers.
	MaxSubscribersPerClient int
	// RequestTimeout bounds a normal request: its work and its response.
	// Subscriptions are exempt: they are meant to stay open.
	RequestTimeout time.Duration
	// CORSOrigins, when not empty, lets pages served from these origins
	// call the API from a browser ("*" for any).
	CORSOrigins []string
	// Replica, if set, is the store's read replica: /readyz reports its lag.
	Replica Replica
	// ReadsMayLag says that a read may not yet see an append another
	// instance has acknowledged (a read replica, a Galera cluster): a
	// Tributary-Min-Position past the head is waited for. Otherwise it is
	// refused at once: no append answered it on this database.
	ReadsMayLag bool
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	store   eventstore.Store
	log     *slog.Logger
	opts    Options
	router  chi.Router
	handler http.Handler
	// routeWords are the fixed segments of the routes (streams, events, …),
	// which the log writes as sent (parsedPath).
	routeWords map[string]bool
	auth       *Access // nil: access control is off

	closing     chan struct{}   // closed by CloseSubscriptions
	closingCtx  context.Context // canceled by CloseSubscriptions
	stopClosing context.CancelFunc
	closeOnce   sync.Once
	subscribers atomic.Int64 // subscriptions open now
	lingers     atomic.Int64 // lingers live subscriptions have taken after a write (see eventWriter.run)
	bodies      bodyBudget   // bytes of request bodies being received now
	handling    atomic.Int64 // requests being handled now
	stopping    atomic.Bool  // set by Stopping: /readyz answers 503
	unready     atomic.Bool  // /readyz's last answer was a 503 for the database (notReady); set and cleared under outage.mu
	// feedMu guards feedStale, whether /readyz last found the live feed
	// stalled, and feedSeen, the newest LastPoll a probe judged
	// (feedStalled).
	feedMu    sync.Mutex
	feedStale bool
	feedSeen  time.Time
	// indexMissing is set while /readyz finds an index of the filtered
	// reads' missing (sayIndexMissing).
	indexMissing atomic.Bool
	// indexEndedSaid is when a subscription ended by a missing index was
	// last logged (endedBy), in Unix nanoseconds; 0, never.
	indexEndedSaid atomic.Int64
	// outage is what notReady logged of the outage under way.
	outage struct {
		mu     sync.Mutex
		cause  string    // the cause last logged (storeCause)
		change time.Time // when a changed cause was last logged; zero, none yet
	}
	// readyzCauseEvery is the least time between two lines of a changed
	// cause of one outage (notReady), in nanoseconds; shorter in tests.
	readyzCauseEvery atomic.Int64
	cutting          atomic.Bool // set by Cut: the server cuts what still runs
	standing         standingLog // the "request failed" lines of a standing condition, one per error in each window
	// appendsRefused is whether the appends answered lately were refused
	// for a standing cause, which /readyz says.
	appendsRefused appendsRefused
	closingAll     atomic.Bool // set by ClosingConnections: what still runs has its connection closed under it
	running        running     // the requests whose access line is still to be logged (Abandon)
	frames         frameCache  // recent events' JSON, shared by subscriptions
	// turns holds a token for each subscription taking its turn now (see
	// eventWriter.step): at most one per two CPUs (turnsFor), however many
	// subscribers a commit wakes; deliveries holds one for each of them
	// writing now: half as many.
	turns, deliveries chan struct{}
	// clients counts the subscriptions each client holds now (takeClientPlace).
	clients clientSubscriptions
	// known holds how far the log and its streams are known to reach, from
	// the reads of subscriptions, so that one refused at a limit is told
	// its starting point is ahead without a read each (aheadAtLimit).
	known known
	// lag is the last read of the read replica's lag, shared by the
	// requests waiting for the replica (replicaLag).
	lag struct {
		sync.Mutex
		last *lagRead
	}
	// ready are /readyz's checks of the database (readyCheck).
	ready readyChecks
}

// turnsFor is how many live subscriptions take their turn at once on procs
// CPUs: half of them, at least one, so that appends and the database find a
// CPU however many subscribers a commit wakes. On 2 CPUs, one turn rather
// than two, six runs each at 1,000 subscribers and 500 appends/s: appends'
// p50 4.2 against 5.5 ms and p99 24 against 26 ms (medians), the group
// commit 1.9 against 2.2 ms, delivery p99 alike (57 ms); better in five
// pairs of six (docs/performance.md).
func turnsFor(procs int) int { return max(1, procs/2) }

// New returns a Server for store.
func New(store eventstore.Store, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// A zero option takes the service's default.
	def := config.Defaults()
	orDefault(&opts.MaxBodyBytes, def.MaxBodyBytes)
	orDefault(&opts.MaxBodyBytesInFlight, def.MaxBodyBytesInFlight)
	opts.MaxBodyBytesInFlight = max(opts.MaxBodyBytesInFlight, opts.MaxBodyBytes)
	orDefault(&opts.MaxClientBytesInFlight, opts.MaxBodyBytesInFlight/2)
	opts.MaxClientBytesInFlight = min(max(opts.MaxClientBytesInFlight, opts.MaxBodyBytes), opts.MaxBodyBytesInFlight)
	orDefault(&opts.MaxBatch, def.MaxBatch)
	orDefault(&opts.Heartbeat, def.Heartbeat)
	orDefault(&opts.StallTimeout, def.SubscriberStallTimeout)
	opts.StallTimeout = max(opts.StallTimeout, 2*opts.Heartbeat)
	orDefault(&opts.MaxEventBytes, def.MaxEventBytes)
	orDefault(&opts.MaxSubscribers, def.MaxSubscribers)
	orDefault(&opts.MaxSubscribersPerClient, max(1, opts.MaxSubscribers/2))
	orDefault(&opts.RequestTimeout, def.RequestTimeout)
	s := &Server{store: store, log: opts.Logger, opts: opts, closing: make(chan struct{}), auth: cmp.Or(opts.Access, NewAccess(opts.Tokens)),
		turns: make(chan struct{}, turnsFor(runtime.GOMAXPROCS(0))), deliveries: make(chan struct{}, max(1, turnsFor(runtime.GOMAXPROCS(0))/2))}
	s.bodies.limit, s.bodies.perClient = opts.MaxBodyBytesInFlight, opts.MaxClientBytesInFlight
	s.clients.limit = opts.MaxSubscribersPerClient
	opts.Metrics.BodiesInFlight(s.bodies.used.Load)
	s.closingCtx, s.stopClosing = context.WithCancel(context.Background())
	s.readyzCauseEvery.Store(int64(readyzCauseEvery))
	s.routes()
	return s
}

// orDefault sets *v to def if it is not positive.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if connShut(r.Context()) {
		// Closed to make room for another (Connections) as net/http
		// parsed this request from its buffer: no one will read an answer,
		// and nothing may be done for it.
		panic(http.ErrAbortHandler)
	}
	if r.Method == "PRI" && r.RequestURI == "*" && r.ProtoMajor == 2 {
		refuseHTTP2Preface(w)
		return
	}
	s.handling.Add(1)
	defer s.handling.Add(-1)
	s.handler.ServeHTTP(w, withUnreservedDecoded(withRootPath(r)))
}

// withRootPath is r with the path "/" where its target is in absolute form
// with an empty path (GET http://host): RFC 9112 §3.2.2 takes that path to
// be "/", and chi routed a GET there as /, but the 405 of a POST, and an
// OPTIONS, found no route for "" and answered 404.
func withRootPath(r *http.Request) *http.Request {
	if r.URL.Path != "" || r.URL.RawPath != "" || r.URL.Host == "" || r.Method == http.MethodConnect {
		return r
	}
	r2 := *r
	u := *r.URL
	u.Path = "/"
	r2.URL = &u
	return &r2
}

// refuseHTTP2Preface answers "PRI * HTTP/2.0", a client speaking HTTP/2
// with prior knowledge over plain TCP, as net/http answers any other
// request line of HTTP/2.0 (505, plain text, the connection closed): it
// hands this one on, for a handler that takes the connection over for
// HTTP/2, which this server does not.
func refuseHTTP2Preface(w http.ResponseWriter) {
	const text = "505 HTTP Version Not Supported: unsupported protocol version"
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		w.Header().Set("Connection", "close")
		http.Error(w, text, http.StatusHTTPVersionNotSupported)
		return
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 " + text + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + text) //nolint:errcheck // a client gone
	buf.Flush()                                                                                                             //nolint:errcheck
}

// withUnreservedDecoded is r with the letters, digits, '-', '.', '_' and
// '~' its path percent-encodes decoded, which RFC 3986 (6.2.2.2) makes the
// same path: routes are matched on the path as sent where it holds an
// escape (routingPath), so /%65vents was a 404. Other escapes stay as
// sent: an encoded slash stays inside its segment.
func withUnreservedDecoded(r *http.Request) *http.Request {
	raw := r.URL.RawPath
	if raw == "" {
		return r
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] == '%' && i+2 < len(raw) {
			if c, err := strconv.ParseUint(raw[i+1:i+3], 16, 8); err == nil && unreserved(byte(c)) {
				if b.Len() == 0 {
					b.WriteString(raw[:i])
				}
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		if b.Len() > 0 {
			b.WriteByte(raw[i])
		}
	}
	if b.Len() == 0 {
		return r
	}
	r2 := *r
	u := *r.URL
	u.RawPath = "" // the path as its default encoding writes it, if that is what is left
	if u.EscapedPath() != b.String() {
		u.RawPath = b.String()
	}
	r2.URL = &u
	return &r2
}

// unreserved reports whether c is one of RFC 3986's unreserved characters.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// SubscriberLimits returns the bounds on subscriptions in force: at once
// on this instance, and per client (its default, half the first, filled in).
func (s *Server) SubscriberLimits() (total, perClient int) {
	return s.opts.MaxSubscribers, s.opts.MaxSubscribersPerClient
}

// Wait returns once no request is being handled, or with ctx's error. A
// server that stops calls it after http.Server.Shutdown, for the live
// subscriptions that left net/http's accounting, and again after it has cut
// what still runs (http.Server.Close), so that no store closes under a
// handler still using it; ctx bounds each wait by what is left of the
// shutdown timeout.
func (s *Server) Wait(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.handling.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s still running: %w", count(s.handling.Load(), "request"), ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// CloseSubscriptions ends every open subscription response, cleanly, and
// makes new ones end at once. http.Server.Shutdown waits for responses to
// finish, so call it when shutdown starts (http.Server.RegisterOnShutdown).
func (s *Server) CloseSubscriptions() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.stopClosing()
	})
}

// Cut says that the server is about to cut what still runs, closing its
// connections (http.Server.Close, past the shutdown timeout or at a second
// signal). It ends the context of each request still running,
// and of any that comes after it, with errCut: one whose handler has
// written nothing yet is answered 503 with Retry-After (writeError), so
// that its client knows to send it again, to another instance. Call it
// before the connections close, and give the handlers a moment (Wait)
// to answer, then call ClosingConnections: a request still running then is
// logged and counted as statusCut, not as a client that left; one answered
// before keeps its status. A handler reading a body still coming does not see its
// context end (an append whose client sends slowly): the read is ended
// too, by a read deadline, so that it can answer rather than wait for its
// connection to close under it.
func (s *Server) Cut() {
	s.cutting.Store(true)
	s.running.mu.Lock()
	defer s.running.mu.Unlock()
	for e, r := range s.running.m {
		if r != nil { // not a live subscription, which CloseSubscriptions ends
			e.cutByStop()
		}
	}
}

// ClosingConnections says that the connections of what still runs are
// about to be closed (http.Server.Close, after Cut and its answer window):
// each request still running now, or that comes after, is logged and
// counted as statusCut, whatever its handler writes as its connection
// goes (a 400 "the body was cut short"). One answered before keeps the
// status it was answered: Cut ends every request's context, so a context
// ended while cutting no longer means that no answer reached the client
// (an append whose commit completed in the answer window is answered 201).
func (s *Server) ClosingConnections() {
	s.closingAll.Store(true)
	s.running.mu.Lock()
	defer s.running.mu.Unlock()
	for e, r := range s.running.m {
		if r != nil { // not a live subscription: Close leaves its connection
			e.closedUnder.Store(true)
		}
	}
}

// cutByStop ends e's request as the stop's cut does (Cut): its context,
// with errCut, and the read of its body if that is still coming, by a read
// deadline now (boundBodyRead keeps it so for a read that begins later).
func (e *accessEntry) cutByStop() {
	e.cut(errCut)
	if e.body.ReadCloser != nil && !e.body.ended.Load() {
		_ = http.NewResponseController(&e.sent).SetReadDeadline(time.Now())
	}
}

// Abandon logs and counts, as cut (statusCut, at WARN), each request still
// running once a cut's wait for the handlers (Wait) has failed: the process
// exits without them (an append whose commit is on its way to a frozen
// database), and each cut request is logged. Their handlers, if they return
// after all, log nothing more. Their bytes are those their handlers wrote
// (sentCounter; 0 for a live subscription's, which took its connection
// over), with still_running true; their route is the one their path asks for.
func (s *Server) Abandon() {
	s.running.mu.Lock()
	left := s.running.m
	s.running.m = nil
	s.running.mu.Unlock()
	for e, r := range left {
		s.opts.Metrics.InFlight(-1)
		route, token, subscription := s.abandoned(e, r)
		took := time.Since(e.start)
		written := 0
		if r != nil && r.Method != http.MethodHead { // a HEAD's body is dropped (sentBytes)
			written = int(e.sent.n.Load())
		}
		if subscription {
			s.opts.Metrics.ObserveSubscription(route, statusCut, written, took)
		} else {
			s.opts.Metrics.ObserveRequest(route, e.method, statusCut, written, took)
		}
		s.log.LogAttrs(context.Background(), slog.LevelWarn, "request",
			slog.String("method", s.logMethod(e.method)),
			slog.String("route", route),
			slog.String("path", e.path),
			slog.String("query", logCut(s.auth.redact(s.auth.logQuery(e.query)))),
			slog.Int("status", statusCut),
			slog.Int("bytes", written),
			slog.Float64("duration_ms", float64(took.Microseconds())/1000),
			slog.String("remote", e.remote),
			slog.String("request_id", s.loggedID(e.id, e.ownID)),
			slog.String("token", token),
			slog.Bool("still_running", true),
		)
	}
}

// abandoned returns the route, the token's name and whether it is a
// subscription, for the line of e, a request Abandon logs: from r, the
// request, which its handler does not change, rather than from what its
// handler may be writing; from what e kept at detach for a subscription
// that took its connection over (r nil).
func (s *Server) abandoned(e *accessEntry, r *http.Request) (route, token string, subscription bool) {
	if r == nil {
		return e.route, e.token, true
	}
	if route = routeFor(s.router, routingPath(r)); route == "" {
		route = "unmatched"
	}
	subscription = r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/event-stream")
	return route, s.tokenName(r), subscription
}

// tokenName is the name of the token r was sent with, "" if none that is
// known: what requireToken sets as the request's principal, read again
// from r, which its handler does not change, rather than from the slot
// its handler may be writing.
func (s *Server) tokenName(r *http.Request) string {
	if s.auth == nil {
		return ""
	}
	secret, err := presentedToken(r)
	if err != nil {
		return ""
	}
	if t, ok := s.auth.lookup(secret); ok {
		return t.name
	}
	return ""
}

// running holds the requests being handled whose access line is still to be
// logged, each with the request as the access log got it: whichever of the
// request's end (accessEntry.done) and Abandon takes it out logs its line.
// A subscription that takes its connection over (detach) keeps its line
// and lets its request go: net/http's goroutine, buffers and request are
// released then, and an idle subscriber must not hold them here.
type running struct {
	mu sync.Mutex
	m  map[*accessEntry]*http.Request
}

// add holds e, the line of r, until take.
func (rr *running) add(e *accessEntry, r *http.Request) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if rr.m == nil {
		rr.m = make(map[*accessEntry]*http.Request)
	}
	rr.m[e] = r
}

// detach keeps e's line and lets its request go: e's subscription took its
// connection over, and goes on with token, the name of its token, and the
// route e has.
func (rr *running) detach(e *accessEntry, token string) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if _, ok := rr.m[e]; ok {
		e.token = token
		rr.m[e] = nil
	}
	// Nor may e keep net/http's response writer, which holds the
	// connection's read and write buffers (8 KiB an idle subscriber): only
	// the count of what was sent stays. Under mu, where Cut looks at it.
	e.sent.ResponseWriter = nil
}

// take reports whether e was held, and no longer holds it: false once
// Abandon has logged its line.
func (rr *running) take(e *accessEntry) bool {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	_, ok := rr.m[e]
	delete(rr.m, e)
	return ok
}

// requestTarget refuses, with a 400, a request whose target names no path
// of the API where its method cannot take one so written, which the router
// would take for "/" or "*": host:port (the authority form a client sends
// a proxy with CONNECT), served the page as GET, a 405 with no Allow as
// CONNECT; and PRI * on a request line of HTTP/1.1 (HTTP/2's preface sent
// to an HTTP/1.1 server), a 405 whose Allow listed every method. A target
// in absolute form (http://host/path) is served as its path. Before any
// of that, it refuses a request whose length is said two ways (framingOf),
// and closes the connection after the answer of one whose framing the log
// cannot tell, or that is chunked, or that came on a connection where a
// length was said in a spelling net/http does not read as one.
func (s *Server) requestTarget(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.RequestURI
		var err error
		switch {
		case strings.HasPrefix(target, "/"), target == "": // "": a request made in Go, not read from a connection
		case target == "*" && r.Method == "PRI":
			// What follows, if anything, is HTTP/2's frames.
			w.Header().Set("Connection", "close")
			err = badRequest("PRI * is HTTP/2's connection preface, sent here on a request line of HTTP/1.1: this server speaks HTTP/1.1 " +
				"over plain TCP, and HTTP/2 only over TLS, where it is negotiated (ALPN h2); send HTTP/1.1 requests, as GET /streams")
		case target == "*":
		case r.Method == http.MethodConnect: // net/http gives its URL the target as Host
			err = badRequest("CONNECT %s is not served here: this server is no proxy; ask it for one of its own paths, as in GET /streams", target)
		case r.URL.Host == "":
			asked := r.Method + " " + target
			if !definedMethod(r.Method) { // not quoted: notAllowed
				asked = sentMethod(r.Method) + " with the target " + target
			}
			err = badRequest("%s is not served here: its target names no path (host and port alone is what a client sends a proxy, with CONNECT); "+
				"ask for one of this server's own paths, as in GET /streams", asked)
		}
		// The framing first: a refusal of the target must not keep a
		// connection whose framing is ambiguous or cannot be told.
		fr := framingOf(r)
		if fr == framingAmbiguous {
			// RFC 9112 6.3 (3) and 6.1: answered, and the connection
			// closed, with nothing of its body read or written.
			w.Header().Set("Connection", "close")
			unmatched(r)
			refusedAs(r, ambiguousFramingReason(r))
			s.writeError(w, r, ambiguousFraming(r))
			return
		}
		if fr == framingUnknown || len(r.TransferEncoding) > 0 {
			// Closed after its answer, the target's refusal included: one
			// the log cannot tell of (a block dropped: it may have said
			// its length two ways; HTTP/1.0 too, which net/http frames by
			// its Content-Length whatever else it said), and any chunked
			// one, whatever the log found: a front end that took its
			// length from a Content-Length the log did not see would have
			// sent the bytes after the chunks as part of it, and they are
			// never read here as another request (request smuggling).
			// Keeping it where the log found the block without
			// Content-Length was weighed and left: the log sees what
			// net/http sees, and a front end may take for a length what
			// neither does. Chunked requests are few; each costs a new
			// connection. So too any request on a connection where a
			// block said a length so (Content_Length read as
			// Content-Length, a length folded onto another header's line:
			// otherSpelling), which net/http serves framed otherwise.
			w.Header().Set("Connection", "close")
		}
		if err != nil {
			unmatched(r)
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ambiguousFramingReason is the reason the access line of r, refused as
// ambiguousFraming, gives: a front end that misframes requests refuses
// every client behind it, and a typo's line would not say so.
func ambiguousFramingReason(r *http.Request) string {
	if !r.ProtoAtLeast(1, 1) {
		return "Transfer-Encoding on HTTP/1.0: length ambiguous (request smuggling?)"
	}
	return "length said two ways: Transfer-Encoding and Content-Length (request smuggling?)"
}

// ambiguousFraming is the refusal of a request whose length its headers
// say two ways (framingOf).
func ambiguousFraming(r *http.Request) error {
	if !r.ProtoAtLeast(1, 1) {
		return badRequest("this HTTP/1.0 request says Transfer-Encoding, which HTTP/1.0 has not (RFC 9112 6.1): its length is " +
			"ambiguous, a front end may take another body than this server would (request smuggling); send it without " +
			"Transfer-Encoding, or as HTTP/1.1")
	}
	return badRequest("this request says both Transfer-Encoding and Content-Length: its length is ambiguous, a front end may " +
		"take another body than this server would (request smuggling, RFC 9112 6.3); send one of them, not both")
}

// headAsGet routes HEAD as GET: every route that serves GET serves HEAD
// (allowed says so), and net/http sends no body. chi's GetHead looks for a
// HEAD route first, and where a sub-router is mounted it takes the mount
// for one: /streams and /streams/{id} answered HEAD with 405. This API has
// no HEAD routes of its own.
func headAsGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			if rctx := chi.RouteContext(r.Context()); rctx != nil {
				rctx.RouteMethod = http.MethodGet
			}
		}
		next.ServeHTTP(w, r)
	})
}

// routes lists every route of the API.
func (s *Server) routes() {
	r := chi.NewRouter()
	// First: every answer, the router's 404 and 405, an OPTIONS and a CORS
	// preflight included, must say how it may be cached, and private for a
	// token in the URL.
	r.Use(s.cacheControl, s.requestID, s.accessLog, s.requestTarget)
	if len(s.opts.CORSOrigins) > 0 {
		// Before access control: a preflight carries no token.
		r.Use(corsHandler(s.opts.CORSOrigins))
	}
	// Before access control, so that its refusals say Vary too, and an
	// OPTIONS needs no token (nor does a preflight, answered before it).
	r.Use(s.recoverer, s.timeout, headAsGet, varyOnAccept, s.options)
	notFound := func(r *http.Request) error {
		return problemf(errNotFound, "no such resource: %s", r.URL.EscapedPath())
	}
	r.NotFound(s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		unmatched(r)
		return notFound(r)
	}))
	r.MethodNotAllowed(s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		// chi sends a method it has no route for at all (FOO) here on
		// any path: on one no route serves, that is a 404, as for the
		// methods it knows, not a 405 with nothing to Allow.
		allow, pattern := routesOn(s.router, routingPath(r))
		if allow == "" {
			unmatched(r)
			return notFound(r)
		}
		// Labelled with the route its path matched, as a GET of it is:
		// chi's own pattern can name a route that did not serve it.
		if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
			e.asked = pattern
		}
		return notAllowed(r.Method, routingPath(r))
	}))

	// Probes stay open so orchestrators need no token.
	// They have no entity tag: If-Match and If-None-Match as on the reads
	// without one (tagless).
	r.With(s.tagless("the liveness probe")).Get("/healthz", s.adapt(s.healthz))
	r.With(s.tagless("the readiness probe")).Get("/readyz", s.adapt(s.readyz))
	r.Get("/", s.adapt(s.page)) // the stream browser's shell holds no data: see page
	// Nor does the contract, which the page's footer links to: a
	// navigation, which carries no token.
	r.With(s.tagless("the contract")).Get("/openapi.yaml", s.adapt(s.openAPI))
	r.Group(func(r chi.Router) {
		if s.auth != nil {
			r.Use(s.requireToken)
		}
		if s.opts.Metrics != nil {
			metrics := s.opts.Metrics.Handler()
			r.With(s.tagless("the metrics exposition")).Get("/metrics", s.adapt(func(w http.ResponseWriter, r *http.Request) error {
				if err := refuseMetricsEventStream(r); err != nil {
					return err
				}
				if _, err := query(r); err != nil { // strict, as every endpoint's
					return err
				}
				serveExposition(metrics, w, r)
				return nil
			}))
		}
		// Reads take Tributary-Min-Position: see minPosition.
		// Each route is written out whole, not nested with Route: a nested
		// route's "/" serves its path with a trailing slash too, and no
		// other path of the API does (openapi.yaml lists none).
		r.With(s.minPosition).Get("/events", s.adapt(s.readAll))
		r.With(s.minPosition).Get("/streams", s.adapt(s.listStreams))
		r.With(s.minPosition).Get("/streams/{streamID}", s.adapt(s.getStream))
		r.With(s.minPosition).Get("/streams/{streamID}/events", s.adapt(s.readStream))
		r.Post("/streams/{streamID}/events", s.adapt(s.appendEvents))
		r.With(s.minPosition).Get("/streams/{streamID}/events/{version}", s.adapt(s.getEvent))
	})
	s.router = r
	s.handler = r
	s.routeWords = map[string]bool{}
	_ = chi.Walk(r, func(_, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		for word := range strings.SplitSeq(route, "/") {
			if word != "" && !strings.HasPrefix(word, "{") {
				s.routeWords[word] = true
			}
		}
		return nil
	})
}

// refuseMetricsEventStream is /metrics' 406 to an Accept that takes an
// event stream alone (refuseEventStream). An Accept taking OpenMetrics is
// a scraper's, served the text format (promhttp's, OpenMetrics not being
// enabled): the 406 names only what is served, text/plain.
func refuseMetricsEventStream(r *http.Request) error {
	if wantsOnlyEvents(r, "text/plain", "application/openmetrics-text") {
		return notAcceptable("the Prometheus exposition", "text/plain")
	}
	return nil
}

// MetricsHandler returns m's Prometheus exposition for a listener of its
// own (TRIBUTARY_DEBUG_ADDR), answered as the API's /metrics answers it
// but for the token and the strict query: Vary: Accept on a GET or HEAD,
// a 406 problem to an Accept that takes an event stream alone (an
// EventSource given the wrong URL, which a 200 would have retry for ever),
// If-Match and If-None-Match as on the API's (tagless: a 412 or a 304 in
// place of the 200; it answered 200 to both), 204 with Allow to an
// OPTIONS and a 405 problem with Allow to any other method (it served them
// all the exposition).
func MetricsHandler(m *metrics.Metrics) http.Handler {
	exposition := m.Handler()
	// A router of the one route, for the Allow of a 405 (writeError); a
	// 406, 405 or 412 logs nothing.
	router := chi.NewRouter()
	router.Get("/metrics", http.NotFound)
	problems := &Server{log: slog.New(slog.DiscardHandler), router: router}
	serve := problems.tagless("the metrics exposition")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := refuseMetricsEventStream(r); err != nil {
			problems.writeError(w, r, err)
			return
		}
		serveExposition(exposition, w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			w.Header().Add("Vary", "Accept")
		case http.MethodOptions:
			w.Header().Set("Allow", allowed(router, "/metrics"))
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			problems.writeError(w, r, notAllowed(r.Method, "/metrics"))
			return
		}
		serve.ServeHTTP(w, r)
	})
}

// serveExposition serves the Prometheus exposition, which adds Vary:
// Accept of its own to its 200 (not to its 500 of a failed gathering): the
// one already given (varyOnAccept) would have it said twice. Each name in
// Vary is said once, as the headers are written; Origin (a listed
// origin's) is kept.
func serveExposition(exposition http.Handler, w http.ResponseWriter, r *http.Request) {
	exposition.ServeHTTP(&varyOnce{ResponseWriter: w}, r)
}

// varyOnce is the ResponseWriter of serveExposition: when its headers are
// written, Vary names each name once, in one line.
type varyOnce struct {
	http.ResponseWriter
	written bool
}

func (v *varyOnce) WriteHeader(code int) {
	v.once()
	v.ResponseWriter.WriteHeader(code)
}

func (v *varyOnce) Write(p []byte) (int, error) {
	v.once()
	return v.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (v *varyOnce) Unwrap() http.ResponseWriter { return v.ResponseWriter }

func (v *varyOnce) once() {
	if v.written {
		return
	}
	v.written = true
	h := v.ResponseWriter.Header()
	var names []string
	for _, line := range h.Values("Vary") {
		for _, name := range strings.Split(line, ",") {
			if name = strings.TrimSpace(name); name != "" && !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
				names = append(names, name)
			}
		}
	}
	if len(names) > 0 {
		h.Set("Vary", strings.Join(names, ", "))
	}
}

// handlerFunc is a handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapt turns a handlerFunc into an http.HandlerFunc that answers errors with
// problem details.
func (s *Server) adapt(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// routingPath is the path chi routes r by: the raw one where it differs
// from the decoded (an encoded slash stays inside its segment).
func routingPath(r *http.Request) string {
	if r.URL.RawPath != "" {
		return r.URL.RawPath
	}
	return r.URL.Path
}

// allowed lists the methods the router serves on path, for a 405's or an
// OPTIONS's Allow: OPTIONS last, as every path that has a route serves it
// (options); "" if none does. It matches path against the routes chi.Walk
// lists (routeMatches), as the router would route it. path is the routing
// path (routingPath); "*" (OPTIONS *) matches every route.
func allowed(router chi.Routes, path string) string {
	allow, _ := routesOn(router, path)
	return allow
}

// routesOn walks the router's routes once for what an OPTIONS needs: the
// Allow of path (allowed), and the pattern of the route that serves it, as
// chi's RoutePattern writes it, for its label (routeFor), "" if none does.
// For "*" the pattern is "*".
func routesOn(router chi.Routes, path string) (allow, pattern string) {
	served := map[string]bool{}
	if path == "*" {
		pattern = "*"
	}
	_ = chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if path == "*" || routeMatches(route, path) {
			served[method] = true
			if pattern == "" {
				pattern = route
			}
		}
		return nil
	})
	var methods []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if served[m] {
			methods = append(methods, m)
			if m == http.MethodGet {
				methods = append(methods, http.MethodHead) // headAsGet
			}
		}
	}
	if len(methods) == 0 {
		return "", pattern
	}
	return strings.Join(append(methods, http.MethodOptions), ", "), pattern
}

// options answers OPTIONS (RFC 9110 §9.3.7) on every path a route serves,
// without a token: 204 with an Allow of the path's methods, and for
// OPTIONS * those of the whole API. A path no route serves is a 404, as
// for any method. A CORS preflight is answered here too, its CORS headers
// set before it where CORS is on (corsHandler).
func (s *Server) options(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		path := routingPath(r)
		if r.RequestURI == "*" {
			path = "*"
		}
		allow, pattern := routesOn(s.router, path)
		if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
			e.asked = pattern // its label (routeOf), without a second walk
		}
		if allow == "" {
			unmatched(r)
			if r.Header.Get("Access-Control-Request-Method") != "" {
				refusePreflight(w.Header()) // a path no route serves takes no method
			}
			s.writeError(w, r, problemf(errNotFound, "no such resource: %s", r.URL.EscapedPath()))
			return
		}
		w.Header().Set("Allow", allow)
		if m := r.Header.Get("Access-Control-Request-Method"); m != "" && !slices.Contains(strings.Split(allow, ", "), m) {
			refusePreflight(w.Header())
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// refusePreflight takes back what corsHandler allowed a preflight: the
// library checks the method asked for against one list for the whole API,
// and so allowed a POST on a path that answers it 405. Without an
// Access-Control-Allow-* header the browser refuses the request itself.
func refusePreflight(h http.Header) {
	for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Headers", "Access-Control-Allow-Credentials", "Access-Control-Max-Age"} {
		h.Del(name)
	}
}

// routeMatches reports whether a chi route pattern, such as
// /streams/{streamID}/events, matches path: segment by segment, so that a
// path with a trailing slash matches no route, as the router routes it.
// It walks both in place: it runs for every route on each OPTIONS and 405.
func routeMatches(route, path string) bool {
	for {
		r, routeRest, routeMore := strings.Cut(route, "/")
		p, pathRest, pathMore := strings.Cut(path, "/")
		if strings.HasPrefix(r, "{") && strings.HasSuffix(r, "}") {
			if p == "" {
				return false
			}
		} else if r != p {
			return false
		}
		if !routeMore || !pathMore {
			return routeMore == pathMore // as many segments in each
		}
		route, path = routeRest, pathRest
	}
}

// accessLog logs one structured line per request, and echoes the request id.
// A subscription that goes on after its handler returned (detach) takes its
// line over and logs it when it ends.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		own, _ := r.Context().Value(clientIDKey{}).(bool)
		e := &accessEntry{s: s, start: time.Now(), id: middleware.GetReqID(r.Context()), ownID: own, method: r.Method,
			path: s.logPath(r), query: r.URL.RawQuery, remote: r.RemoteAddr, ww: ww}
		ww.Header().Set("X-Request-Id", e.id)
		// A body holds what clients wrote (event data, `<script>` and all,
		// byte for byte): no browser may take it for anything but its
		// Content-Type.
		ww.Header().Set("X-Content-Type-Options", "nosniff")
		ctx, principal := withPrincipalSlot(r.Context())
		e.principal = principal
		// Ended by net/http with the request, or by Cut with errCut.
		ctx, e.cut = context.WithCancelCause(ctx)
		r = r.WithContext(context.WithValue(ctx, accessKey{}, e))
		if isSubscription(r) {
			notResponding(r.Context()) // a subscription's client may read slowly
		}
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			e.body.ReadCloser, r.Body = r.Body, &e.body // see bodyStillComing
			if r.Method == http.MethodPost {
				// An append's body: at a bound, its connection may go to a
				// new one while the body trickles (receiveBody).
				e.body.conn = receiveBody(r.Context())
				defer e.body.received()
			}
		}
		if r.Method != http.MethodPost && !isSubscription(r) {
			// No route but an append reads a body: one that said it had
			// a body (a GET with Content-Length, or chunked) and has not
			// sent it would otherwise be answered only once it came, or
			// at the ReadTimeout, as a refusal was (closeUnread). A
			// subscription refuses a body it says it has (noBody).
			closeUnread(ww, r, nil)
		}
		e.sent.ResponseWriter = ww // before Cut can see e (running.add)
		e.sent.stopping = &s.stopping
		s.opts.Metrics.InFlight(1)
		s.running.add(e, r)
		if s.cutting.Load() {
			e.cutByStop() // it came after Cut ended the others'
		}
		if s.closingAll.Load() {
			e.closedUnder.Store(true) // it came after ClosingConnections marked the others
		}
		defer func() {
			if !e.detached {
				e.route, e.subscription = routeOf(r), isEventStream(r, ww)
				e.done(r.Context(), ww.Status(), sentBytes(r, ww))
			}
		}()
		next.ServeHTTP(&e.sent, r)
		if !e.detached {
			e.sent.closeAfterIfStopped(r)
		}
		if ww.Status() == 0 && r.Context().Err() != nil {
			// Answered nothing because net/http cancelled the request,
			// the client gone, or only half-closed: it may still read,
			// and net/http would send it a 200 with no body, an append
			// not written read as a success. Cut the connection instead.
			panic(http.ErrAbortHandler)
		}
		sendNow(e, ww)
	})
}

// sentCounter is the ResponseWriter handlers write through: it counts the
// bytes of body written, where Abandon, on another goroutine, can read
// them (the access log's WrapResponseWriter counts them only for the
// handler's own goroutine). Flush, Hijack and deadlines reach the writer
// below through Unwrap (http.ResponseController).
type sentCounter struct {
	http.ResponseWriter
	n        atomic.Int64
	stopping *atomic.Bool // the server's: answers once it is set say Connection: close (closeIfStopping)
	// keptOpen is set, on the handler's goroutine, when the status went out
	// without Connection: close (before Stopping): see closeAfterIfStopped.
	statusSent, keptOpen bool
}

func (c *sentCounter) Write(b []byte) (int, error) {
	c.closeIfStopping() // the status, if not yet written, is written now
	n, err := c.ResponseWriter.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// WriteHeader writes the status, saying Connection: close where Stopping
// was called since the request began (closeIfStopping).
func (c *sentCounter) WriteHeader(code int) {
	if code >= 200 {
		c.closeIfStopping()
	}
	c.ResponseWriter.WriteHeader(code)
}

// closeIfStopping says Connection: close on an answer written once
// Stopping was called. cacheControl says it as a request begins; a request
// begun before Stopping (an append reading its body, a read waiting on the
// database) and answered during the shutdown delay said nothing of the
// stop, and its kept-alive connection stayed with a pooled client whose
// next request raced the drain's close of idle connections. Set after the
// status was written (a later Write), it changes nothing that was sent.
func (c *sentCounter) closeIfStopping() {
	h := c.Header()
	if c.stopping != nil && c.stopping.Load() {
		if h.Get("Connection") != "close" { // once: Write calls it for each piece of a body
			h.Set("Connection", "close")
		}
	}
	if !c.statusSent {
		c.statusSent, c.keptOpen = true, h.Get("Connection") != "close"
	}
}

// closeAfterIfStopped has the connection of r closed as soon as its answer
// has ended (closeWhenIdle) where Stopping was called after the status went
// out without Connection: close (keptOpen): a long page streamed, whose
// headers cannot say it any more. Kept alive, its connection stayed with a
// pooled client until the drain closed it, racing the client's next
// request. Call it once the handler returned.
func (c *sentCounter) closeAfterIfStopped(r *http.Request) {
	if c.keptOpen && c.stopping != nil && c.stopping.Load() {
		closeWhenIdle(r.Context())
	}
}

// Unwrap returns the writer below, for http.ResponseController.
func (c *sentCounter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// isEventStream reports whether the response to r is a subscription's: a
// GET answered 200 as text/event-stream. (A HEAD of one is answered at once.)
func isEventStream(r *http.Request, ww middleware.WrapResponseWriter) bool {
	return r.Method == http.MethodGet && ww.Status() == http.StatusOK && ww.Header().Get("Content-Type") == "text/event-stream"
}

// sentBytes is how many bytes of body went to the client: none for HEAD,
// whose body net/http drops, though the handler wrote it.
func sentBytes(r *http.Request, ww middleware.WrapResponseWriter) int {
	if r.Method == http.MethodHead {
		return 0
	}
	return ww.BytesWritten()
}

// sendNow sends a response its handler has finished, so that the client
// does not wait for its log line and metrics: net/http would send it only
// once this middleware returns. Only a response whose length is declared,
// or that has no body (304, 204): one without would then go chunked, where
// net/http gives a short one a Content-Length.
func sendNow(e *accessEntry, ww middleware.WrapResponseWriter) {
	status := ww.Status()
	if e.detached || status == 0 {
		return
	}
	if ww.Header().Get("Content-Length") == "" && status != http.StatusNotModified && status != http.StatusNoContent {
		return
	}
	_ = http.NewResponseController(ww).Flush() // an error means the client left
}

// statusSent reports whether the response to r has its status written, or
// its connection taken over (detach): no other status can be sent then.
func statusSent(r *http.Request) bool {
	e, ok := r.Context().Value(accessKey{}).(*accessEntry)
	return ok && (e.detached || e.ww.Status() != 0)
}

// accessKey is the context key of a request's accessEntry.
type accessKey struct{}

// accessEntry is a request's access log line while it is served.
type accessEntry struct {
	s                                      *Server
	start                                  time.Time
	id, method, path, query, remote, route string // id as answered: log it through loggedID
	ownID                                  bool   // id is the client's own (requestID)
	principal                              *string
	revoked                                context.Context // ends when the token the request was let in with is removed (Access.Replace)
	token                                  string          // at detach: *principal, for Abandon (running.detach)
	ww                                     middleware.WrapResponseWriter
	detached                               bool                    // a subscription logs the line when it ends
	subscription                           bool                    // a subscription's response (isEventStream)
	release                                func()                  // if not nil, gives back the client's place (takeClientPlace)
	cut                                    context.CancelCauseFunc // ends the request's context (Cut)
	sent                                   sentCounter             // what handlers write through: ww, counting for Abandon
	unmatched                              bool                    // no route served it (see unmatched)
	asked                                  string                  // an OPTIONS's or a 405's route (options, routes): the pattern of the one its path asks about
	refused                                bool                    // a 5xx for a limit, no fault of the server's: a warning (see writeError)
	probe                                  bool                    // /readyz's 503 for the database, logged once where it starts (notReady): info
	degraded                               bool                    // /readyz's 200 whose body says a part is refused (appends, filtered reads): info, not a passing probe's debug
	body                                   readToEnd
	closedUnder                            atomic.Bool // still running when its connection was closed (ClosingConnections)
	unlogged                               bool        // a standing condition's 5xx whose "request failed" line was not logged (standingLog): a warning
	refusal                                string      // why a request was refused before routing, for its line (refusedAs); "" for any other
}

// readToEnd is a request body that knows whether it was read to its end:
// Cut, on another goroutine, asks too.
type readToEnd struct {
	io.ReadCloser
	ended atomic.Bool
	// conn is the body's connection while it is listed as receiving it
	// (receiveBody), counting what is read; nil before and after. Read on
	// the handler's goroutine only.
	conn *trackedConn
}

// Read reads the body. Once its connection was closed for a new one at a
// bound (receiveBody), it fails with bodyTooSlow, its last bytes too: the
// connection's place is gone, and nothing may be done for the request.
func (b *readToEnd) Read(p []byte) (int, error) {
	if t := b.conn; t != nil && t.shut.Load() {
		return 0, t.bodyTooSlow()
	}
	n, err := b.ReadCloser.Read(p)
	if t := b.conn; t != nil {
		t.bodyRead.Add(int64(n))
		if err != nil && b.received() || t.shut.Load() {
			return 0, t.bodyTooSlow()
		}
	}
	if errors.Is(err, io.EOF) {
		b.ended.Store(true)
	}
	return n, err
}

// received takes the body's connection off the receiving lists, once it is
// read to its end, fails, or is no longer read, and reports whether the
// connection was closed for a new one first.
func (b *readToEnd) received() (evicted bool) {
	if b.conn == nil {
		return false
	}
	evicted = b.conn.c.received(b.conn)
	if !evicted {
		b.conn = nil
	}
	return evicted
}

// bodyStillComing reports whether r has a body the handler did not read to
// its end: a refusal before it, or halfway through it.
func bodyStillComing(r *http.Request) bool {
	if r.ContentLength == 0 {
		return false
	}
	e, ok := r.Context().Value(accessKey{}).(*accessEntry)
	return !ok || !e.body.ended.Load()
}

// closeUnread ends a refused request whose body is still coming, err its
// refusal: net/http would read what is left of it, up to 256 KiB, before it
// sends the answer (a client that waits for the answer first then has
// none), and again before it closes the connection, so that a client that
// sends it a byte at a time held the connection and its goroutine until the
// ReadTimeout. The answer says Connection: close, so it is sent at once,
// and the connection's read deadline is unreadGrace away: net/http then
// closes the connection as soon as the rest of the body has come, or at
// that deadline. Call it before the status is written.
func closeUnread(w http.ResponseWriter, r *http.Request, err error) {
	if !bodyStillComing(r) {
		return
	}
	w.Header().Set("Connection", "close")
	if errors.Is(err, errRequestTimeout) {
		return // its deadline has passed already: see boundBodyRead
	}
	// Not every ResponseWriter can; the header still closes it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(unreadGrace))
}

// unreadGrace is how long net/http may still read the rest of a refused
// request's body before it closes the connection (closeUnread). Closed
// with bytes of the body unread, the connection is reset, and a client
// still sending its body can lose the answer with it: one that sends a
// body of a few hundred KiB at once has sent it by then.
const unreadGrace = time.Second

// unmatched marks r as served by no route, a 404 of the router's. chi's
// pattern for it can name a route that did not serve it: the route label
// and the log say "unmatched".
func unmatched(r *http.Request) {
	if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
		e.unmatched = true
	}
}

// refusedAs records why r is refused before routing, a fixed sentence, which
// its access line gives as refused.
func refusedAs(r *http.Request, reason string) {
	if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok {
		e.refusal = reason
	}
}

// routeOf returns the route pattern that served r, or "unmatched". An
// OPTIONS, a CORS preflight included (corsHandler passes it on), is
// answered before routing (options): it takes the pattern of the route its
// path asks about, as a GET of that path is labelled, and OPTIONS * takes
// "*"; one on a path no route serves is "unmatched". A 405 takes the
// pattern of the route its path matched (asked), not chi's.
func routeOf(r *http.Request) string {
	e, ok := r.Context().Value(accessKey{}).(*accessEntry)
	if ok && e.unmatched {
		return "unmatched"
	}
	if ok && e.asked != "" && r.Method != http.MethodOptions {
		return e.asked
	}
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" { // built anew at each call
			return p
		}
	}
	if ok && r.Method == http.MethodOptions {
		if r.RequestURI == "*" {
			return "*"
		}
		if e.asked != "" {
			return e.asked
		}
	}
	return "unmatched"
}

// routeFor returns the pattern of the route that serves path, as chi's
// RoutePattern writes it, or "" if none does. The routes are written out
// whole (routes), so no pattern but / ends in a slash.
func routeFor(router chi.Routes, path string) string {
	pattern := ""
	_ = chi.Walk(router, func(_, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if routeMatches(route, path) {
			pattern = route
			return errFound
		}
		return nil
	})
	return pattern
}

// errFound stops a chi.Walk that found what it looked for.
var errFound = errors.New("found")

// detachAccessEntry takes the line over from the access log middleware, for
// a response that goes on after its handler returned; call the func it
// returns, with the bytes written since, when it ends. For a request the
// access log did not see, that func does nothing.
func detachAccessEntry(r *http.Request) func(written int) {
	e, ok := r.Context().Value(accessKey{}).(*accessEntry)
	if !ok {
		return func(int) {}
	}
	e.detached, e.route, e.subscription = true, routeOf(r), true
	status, before := e.ww.Status(), e.ww.BytesWritten()
	e.ww = nil                          // and running.detach lets e.sent's go: see there
	e.s.running.detach(e, *e.principal) // r is not kept: see running
	return func(written int) { e.done(context.Background(), status, before+written) }
}

// statusClientClosed is what the metrics and the log record for a request
// whose client left (or half-closed) before it was answered (nginx's 499,
// "client closed request"): its connection is cut (accessLog), and counted
// as a 200, a database that holds requests up until their clients give up
// would show as a run of successes.
const statusClientClosed = 499

// statusCut is what the metrics and the log record for a request the
// server cut (Cut), its connection closed under it at a stop past its
// timeout or at a second signal (ClosingConnections): the server's doing,
// not the client's (499), whatever the handler wrote as the connection
// went (a 400 "the body was cut short"). One whose handler answered in
// Cut's answer window, before the connections closed, keeps its status.
const statusCut = http.StatusServiceUnavailable

// done records the request's metrics and logs its line.
func (e *accessEntry) done(ctx context.Context, status, written int) {
	s := e.s
	if e.release != nil {
		e.release()
	}
	if !s.running.take(e) {
		return // logged and counted by Abandon, as the process exited
	}
	s.opts.Metrics.InFlight(-1)
	cut := e.closedUnder.Load()
	switch {
	case cut:
		status = statusCut // its connection closed under it by Cut's caller (ClosingConnections)
	case status == 0 && ctx.Err() != nil:
		status = statusClientClosed // no one to answer: the client left first
	case status == 0:
		status = http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	took := time.Since(e.start)
	if e.subscription {
		s.opts.Metrics.ObserveSubscription(e.route, status, written, took)
	} else {
		s.opts.Metrics.ObserveRequest(e.route, e.method, status, written, took)
	}
	level := slog.LevelInfo
	switch {
	case status < 300 && !e.degraded && (e.route == "/healthz" || e.route == "/readyz" || e.route == "/metrics"):
		// Probes and scrapes that pass, every few seconds from each
		// orchestrator and scraper: tens of thousands of lines a day that
		// said nothing. Their failures stay at INFO and above, and so
		// does a /readyz 200 whose body says a part is refused.
		level = slog.LevelDebug
	case status < 500 || e.route == "/readyz" && s.stopping.Load():
		// /readyz's 503 during the shutdown delay was asked for (errStopping).
	case e.probe && !cut:
		// An outage's: its start and end are logged once (notReady).
	case e.unlogged:
		// A standing condition's, said by the first with its error
		// (standingLog) and counted by the metrics.
		level = slog.LevelWarn
	case e.refused || cut || status == statusCut && errors.Is(context.Cause(ctx), errCut):
		// No fault: a limit, or a stop that cut it (logged), or answered
		// it 503 as Cut ended its context (cutError).
		level = slog.LevelWarn
	default:
		// The cause is in the "request failed" line before it.
		level = slog.LevelError
	}
	if !s.log.Enabled(ctx, level) {
		// A passing probe's line below the log's level: nothing of what
		// the client sent is looked at for it (its id's likeness to a
		// token, loggedID, included).
		return
	}
	attrs := []slog.Attr{
		slog.String("method", s.logMethod(e.method)),
		slog.String("route", e.route),
		slog.String("path", e.path), // redacted and cut (logPath)
		slog.String("query", logCut(s.auth.redact(s.auth.logQuery(e.query)))),
		slog.Int("status", status),
		slog.Int("bytes", written),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("remote", e.remote),
		slog.String("request_id", s.loggedID(e.id, e.ownID)),
		slog.String("token", *e.principal),
	}
	if e.refusal != "" {
		attrs = append(attrs, slog.String("refused", e.refusal))
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
}

// logPath is r's path for a log line: as the client sent it, escapes and
// all (sentPath), so that /streams/ID%2Fevents is not logged as
// /streams/ID/events, the route; each segment that does not parse as a
// route's word, a UUID or a number written as <invalid: N bytes>
// (parsedPath); with every known token REDACTED and cut (logCut). A token
// the path holds encoded (a base64 token's / sent as %2F), once or more,
// is found in the path decoded as many times: the path is then logged as
// its default encoding writes that one, redacted (redactEncoded).
func (s *Server) logPath(r *http.Request) string {
	return logCut(s.auth.redactEncoded(s.parsedPath(sentPath(r)), func(decoded string) string {
		return (&url.URL{Path: decoded}).EscapedPath()
	}))
}

// parsedPath is path, as sent, with each segment that, decoded, is neither
// a fixed word of a route (routeWords), a UUID as a stream id is written,
// nor a number as a version is, written as <invalid: N bytes>
// (invalidValue): a mistyped token, which redact does not know, pasted
// into a path (or split across its segments) would be logged almost whole
// otherwise. A target that is no path is returned as its shape
// (targetShape). Past maxLogField bytes, what is left is one segment.
func (s *Server) parsedPath(path string) string {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return s.targetShape(path)
	}
	var b strings.Builder
	for {
		b.WriteByte('/')
		if b.Len() > maxLogField {
			b.WriteString(invalidValue(rest))
			return b.String()
		}
		seg, more, found := strings.Cut(rest, "/")
		b.WriteString(s.parsedSegment(seg))
		if !found {
			return b.String()
		}
		rest = more
	}
}

// targetShape is a target that is no path, for a log line: OPTIONS's "*"
// as it is; host:port (CONNECT's, or any method's sent so) with its port
// as sent if a number, its host if an IP address, each else
// <invalid: N bytes> (a known token REDACTED); anything else (another
// scheme's URI) wholly so. A host name may be a mistyped token, as any
// segment may (parsedSegment).
func (s *Server) targetShape(target string) string {
	if target == "*" {
		return target
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return invalidValue(target)
	}
	_, notIP := netip.ParseAddr(host)
	switch red := s.auth.redact(host); {
	case s.auth.near(host):
		host = invalidValue(host)
	case red != host: // a known token, logged as REDACTED as anywhere else
		host = red
	case notIP != nil:
		host = invalidValue(host)
	case strings.Contains(host, ":"):
		host = "[" + host + "]"
	}
	if _, refused := parseNumber(port); refused != 0 || s.auth.near(port) {
		port = invalidValue(port)
	}
	return host + ":" + port
}

// parsedSegment is seg, a segment of a path as sent, if it parses as
// parsedPath says, else <invalid: N bytes>.
func (s *Server) parsedSegment(seg string) string {
	if seg == "" {
		return seg
	}
	decoded, err := url.PathUnescape(seg)
	switch {
	case err != nil:
	case s.auth.near(decoded): // a token mistyped as a stream id (a token may be a UUID)
	case s.routeWords[decoded], plainWord(decoded):
		return seg
	case len(decoded) == 36: // ParseUUID's length, checked first as it words a refusal
		if _, err := eventstore.ParseUUID("", decoded); err == nil {
			return seg
		}
	default:
		if _, refused := parseNumber(decoded); refused == 0 {
			return seg
		}
	}
	return invalidValue(seg)
}

// maxPlainWord is the longest segment plainWord takes: fewer characters
// than a token may have (16, cmd/api's minTokenLength), so that no whole
// token is one.
const maxPlainWord = 15

// plainWord reports whether s, a decoded path segment, is a plain word,
// as a prefix a proxy failed to strip is (tributary, api-v2, es.prod-eu2):
// parts of lowercase letters, each ending in at most two digits, joined
// by single '-', '_' or '.', at most maxPlainWord bytes in all. Such a
// segment is logged as sent, so that an operator sees the word that
// routed a request nowhere. A piece of a random token (a digit amid
// letters, a capital) is no plain word but by rare chance, and then only
// a few of its characters; one that shares nearPiece with a known token
// is no plain word either (parsedSegment asks near first).
func plainWord(s string) bool {
	if s == "" || len(s) > maxPlainWord {
		return false
	}
	letters, digits := 0, 0 // of the part being read
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z' && digits == 0:
			letters++
		case c >= '0' && c <= '9' && letters > 0 && digits < 2:
			digits++
		case (c == '-' || c == '_' || c == '.') && letters > 0:
			letters, digits = 0, 0
		default:
			return false
		}
	}
	return letters > 0
}

// logMethod is a request's method for a log line: one HTTP defines (RFC
// 9110 §9, RFC 5789, and HTTP/2's preface PRI), else <invalid: N bytes>: a
// method is any HTTP token, so a client may send a token there, encoded or
// not, known (REDACTED) or mistyped.
func (s *Server) logMethod(method string) string {
	if definedMethod(method) {
		return method
	}
	return invalidValue(method)
}

// definedMethod reports whether method is one HTTP defines (RFC 9110 §9,
// RFC 5789, and HTTP/2's preface PRI), in its case.
func definedMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, "PRI":
		return true
	}
	return false
}

// notAllowed is the 405 of method on path. A method HTTP does not define
// is not quoted, only its length (as the log writes it, logMethod): any
// token may stand where the method goes, an access token too, and a
// problem is logged and shown by clients.
func notAllowed(method, path string) error {
	if !definedMethod(method) {
		return problemf(errMethodNotAllowed, "%s is not allowed on %s", sentMethod(method), path)
	}
	return problemf(errMethodNotAllowed, "%s is not allowed on %s", method, path)
}

// sentMethod is how a problem speaks of method, one HTTP does not define:
// by its length alone.
func sentMethod(method string) string {
	return "the method sent (" + strconv.Itoa(len(method)) + " bytes, not one HTTP defines; methods are case-sensitive)"
}

// sentPath is r's path as its request line sent it: percent-escapes as
// they came, before withUnreservedDecoded, "*" for OPTIONS *, "/" for an
// absolute target with no path (http://host, served as /), and a target
// that is no path (CONNECT's host:port) whole.
func sentPath(r *http.Request) string {
	target := r.RequestURI
	if strings.HasPrefix(target, "/") || target == "*" {
		path, _, _ := strings.Cut(target, "?")
		return path
	}
	if r.Method != http.MethodConnect { // whose URL net/http gives the target as Host
		if u, err := url.ParseRequestURI(target); err == nil && u.Host != "" {
			if u.EscapedPath() == "" {
				return "/" // http://host is served as /, as RFC 9112 §3.2.2 has an empty path taken
			}
			return u.EscapedPath() // an absolute URI: its path as sent, where it is a valid encoding
		}
	}
	if target == "" {
		return r.URL.EscapedPath() // a request made in Go, not read from a connection
	}
	return target
}

// maxLogField bounds what a log line or a problem quotes of a request's method,
// path and query: net/http takes a request line of up to a megabyte, and
// log shippers split or drop such lines.
const maxLogField = 1024

// logCut cuts s, already redacted (a cut first could leave part of a
// token), to at most maxLogField bytes, at a character's start, and marks
// the cut with s's length.
func logCut(s string) string {
	if len(s) <= maxLogField {
		return s
	}
	end := maxLogField
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + "… (" + strconv.Itoa(len(s)) + " bytes in all)"
}

// corsHandler adds the CORS headers for pages on the given origins, a
// preflight's included, and passes a preflight on to options, which answers
// it as any OPTIONS (204 with Allow, or 404 for a path no route serves):
// the library's own answer was 200 with no Allow on any path. Credentials
// (cookies) are never allowed: access is by bearer token, which a browser
// never sends on its own, so even "*" lets no page act for a user without
// the user's token. Any other list is matched by allowedOrigin.
//
// A listed origin's preflight is allowed every request header it asks for,
// each by name (the library answers the names asked, so Authorization is
// named, which a literal "*" would not cover): a fixed list refused the
// whole preflight for one header outside it, Cache-Control or an X-… a
// fetch wrapper adds, and the browser failed as a network error a request
// the server would have served. The server ignores the headers it does not
// know, and the ones it reads were all in that list, so no page can do more
// than before: the token still decides. They are named back as asked
// (askedHeaders): the library names back only the letters, digits, '-',
// '_' and '.' of each (X-Trace+Id as X-Traceid), which the browser takes
// for a refusal of the header asked for.
func corsHandler(origins []string) func(http.Handler) http.Handler {
	var allowed func(*http.Request, string) bool
	anyOrigin := slices.Contains(origins, "*")
	if !anyOrigin {
		allowed = allowedOrigin(origins)
	}
	exposed := []string{"ETag", "Location", "Link", "Retry-After", "X-Request-Id"}
	library := cors.Handler(cors.Options{
		OptionsPassthrough: true,
		AllowOriginFunc:    allowed,
		AllowedOrigins:     origins,
		// The library adds Access-Control-Allow-Origin only to a request
		// of a method listed here: PUT, PATCH and DELETE are listed so that
		// their 405s are readable too (no route serves them, and options
		// refuses their preflights on every path).
		AllowedMethods:   []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"*"},
		ExposedHeaders:   exposed,
		AllowCredentials: false,
		MaxAge:           600,
	})
	canonical := make([]string, len(exposed))
	for i, name := range exposed {
		canonical[i] = http.CanonicalHeaderKey(name)
	}
	exposedList := strings.Join(canonical, ", ") // as the library writes it
	return func(next http.Handler) http.Handler {
		// A preflight it allowed is passed on (OptionsPassthrough) with
		// Access-Control-Allow-Methods set: only then are the headers
		// named, whether or not the library found a name it could read in
		// the list's first line (it reads no other).
		return library(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			if h.Get("Access-Control-Allow-Methods") != "" {
				if names := askedHeaders(r); names != "" {
					h.Set("Access-Control-Allow-Headers", names)
				} else {
					h.Del("Access-Control-Allow-Headers")
				}
			}
			// The library adds nothing to the answer to a method it does
			// not list (FOO, get, TRACE: a 405, or a 404), which the
			// page that sent it could then not read: a listed origin's
			// answer carries its headers whatever the method. Not a
			// preflight's: the library refused that one.
			_, hasOrigin := r.Header["Origin"]
			preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
			if hasOrigin && !preflight && h.Get("Access-Control-Allow-Origin") == "" {
				if origin := r.Header.Get("Origin"); anyOrigin {
					h.Set("Access-Control-Allow-Origin", "*")
					h.Set("Access-Control-Expose-Headers", exposedList)
				} else if allowed(r, origin) {
					h.Set("Access-Control-Allow-Origin", origin)
					h.Set("Access-Control-Expose-Headers", exposedList)
				}
			}
			next.ServeHTTP(w, r)
		}))
	}
}

// askedHeaders is the names a preflight's Access-Control-Request-Headers
// asks for, in all its lines (one list, RFC 9110 §5.3: the library reads
// the first alone), each as asked, canonical in case, joined by ", "; a
// name that is not a token (RFC 9110 §5.1), which no browser sends, is
// left out.
func askedHeaders(r *http.Request) string {
	var names []string
	for _, line := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(line, ",") {
			if name = strings.Trim(name, " \t"); name != "" && isToken(name) {
				names = append(names, http.CanonicalHeaderKey(name))
			}
		}
	}
	return strings.Join(names, ", ")
}

// isToken reports whether s is made of tchar alone (RFC 9110 §5.6.2).
func isToken(s string) bool {
	return !strings.ContainsFunc(s, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", c))
	})
}

// cacheControl says how every answer may be cached, whether or not access
// control is on: no-cache, so that any cache checks with the server before
// it reuses an answer (a read with an ETag is then answered 304): a log
// or a stream read, a 404 of a stream not created yet, grows stale as soon
// as an append commits, and a shared cache would otherwise keep a GET a
// while (Varnish: two minutes), and a 404 (cacheable by default, RFC 9110
// §15.1). A problem says no-store (noStore). An answer to a request whose
// URL holds a token, ?access_token= (by its decoded name, as query reads
// it) or, where access control is on, a known token anywhere in the path
// or query, says private too: no shared cache may keep it under a URL that
// holds a token (RFC 6750 §2.3), whatever it is, the router's 404 and 405
// included, which come before access control.
//
// Once Stopping was called (the shutdown delay), every answer says
// Connection: close too, and net/http closes its connection after it: a
// pooled client opens its next connection, to another instance, instead
// of sending on one that the drain closes once idle, racing its next
// request (an append already written is not retried by Go's client).
func (s *Server) cacheControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stopping.Load() {
			w.Header().Set("Connection", "close")
		}
		cc := "no-cache"
		if namesAccessToken(r.URL.RawQuery) || s.auth.holdsToken(r.URL.RawQuery) ||
			s.auth.holdsToken(sentPath(r)) || s.auth.holdsToken(r.URL.EscapedPath()) {
			cc = "no-cache, private"
		}
		w.Header().Set("Cache-Control", cc)
		next.ServeHTTP(w, r)
	})
}

// namesAccessToken reports whether the raw query has an access_token
// parameter, its name decoded as query decodes it (access%5Ftoken is
// one), or compared as sent where it cannot be decoded.
func namesAccessToken(raw string) bool {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, _, _ := strings.Cut(pair, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		if name == "access_token" {
			return true
		}
	}
	return false
}

// noStore sets a problem's Cache-Control: no-store, as it has nothing a
// cache could check with the server, and a 404 or a 503 kept would be
// served on after it ends; private too where a token in the URL asked for
// it (cacheControl).
func noStore(h http.Header) {
	if strings.HasSuffix(h.Get("Cache-Control"), "private") {
		h.Set("Cache-Control", "no-store, private")
		return
	}
	h.Set("Cache-Control", "no-store")
}

// requestID gives every request an id, which X-Request-Id returns and
// the log records. A client's own X-Request-Id is used when it is one
// short, printable token (validRequestID): anything else could forge or
// break log lines, so it gets a fresh id instead. What is answered never
// depends on the access tokens: an id that is a known token, or shares
// part of one, is still answered as sent (the client sent it), else the
// answer would tell any client, without a token, whether what it sent
// holds a piece of one. Only the log withholds such an id (loggedID),
// looked at when a line is written, after the answer where it can be.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if ids := r.Header.Values("X-Request-Id"); len(ids) == 1 && validRequestID(ids[0]) {
			ctx = context.WithValue(context.WithValue(ctx, middleware.RequestIDKey, ids[0]), clientIDKey{}, true)
		} else {
			ctx = context.WithValue(ctx, middleware.RequestIDKey, uuid.NewString())
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientIDKey is the context key that says the request's id is the
// client's own (requestID), which the log may withhold (loggedID).
type clientIDKey struct{}

// loggedRequestID is the id of the request of ctx as its log lines write
// it (loggedID).
func (s *Server) loggedRequestID(ctx context.Context) string {
	own, _ := ctx.Value(clientIDKey{}).(bool)
	return s.loggedID(middleware.GetReqID(ctx), own)
}

// loggedID is id, a request's id, as the log writes it: a client's own
// (own) that is a known token, or shares nearPiece characters in a row
// with one (near: a token cut short or mistyped), is withheld, written as
// its length and why; any other id as it is. The server's own ids are
// never withheld.
func (s *Server) loggedID(id string, own bool) string {
	if own && (s.auth.redact(id) != id || s.auth.near(id)) {
		return fmt.Sprintf("<withheld: %d bytes like an access token>", len(id))
	}
	return id
}

// validRequestID reports whether a client's request id is 1–64 characters
// of A–Z, a–z, 0–9, '.', '_' and '-'.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// timeout bounds a normal request's context and response writing, so that
// neither a stuck database nor a client that stops reading holds a request
// for ever. Subscriptions are long-lived by design and exempt; nothing else
// is, whatever it accepts.
func (s *Server) timeout(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isSubscription(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		// The response may take a little longer than the work: a request
		// that timed out must still be able to send its 503. Not every
		// ResponseWriter supports deadlines; the context still bounds the work.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.RequestTimeout + writeGrace))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// isSubscription reports whether r asks for a subscription: a GET with
// Accept: text/event-stream on one of the two routes that serve them,
// /events and /streams/{id}/events. It runs before routing, so it matches
// the path itself; a path it does not match keeps its timeout.
func isSubscription(r *http.Request) bool {
	return r.Method == http.MethodGet && wantsEvents(r) && eventsPath(r.URL.Path)
}

// eventsPath reports whether path is that of a route that serves a page or
// a subscription by the Accept header alone: /events or
// /streams/{id}/events. It is matched before routing.
func eventsPath(path string) bool {
	if path == "/events" {
		return true
	}
	// /streams/{id}/events, without a split: it runs on every GET.
	id, ok := strings.CutPrefix(path, "/streams/")
	id, ok2 := strings.CutSuffix(id, "/events")
	return ok && ok2 && id != "" && !strings.Contains(id, "/")
}

// writeGrace is how much longer than its work a response may take to write.
const writeGrace = 5 * time.Second

// recoverer turns a panic into a 500 problem and a log line with the stack;
// a panic after the status was sent cuts the connection (see writeError).
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec) // net/http's way to cut a response short; let it through
			}
			s.logPanic(rec, "method", s.logMethod(r.Method), "path", s.logPath(r), "request_id", s.loggedRequestID(r.Context()))
			s.writeError(w, r, errPanic)
		}()
		next.ServeHTTP(w, r)
	})
}

var errPanic = errors.New("handler panicked")

// logPanic logs a recovered panic with the stack, and with every known
// token in its value REDACTED: a panic may quote what a request sent.
func (s *Server) logPanic(rec any, attrs ...any) {
	s.log.Error("panic", append(attrs, "panic", s.auth.redactLogged(fmt.Sprint(rec)), "stack", s.auth.redact(string(debug.Stack())))...)
}

// writeJSON encodes v into a buffer first, so an encoding failure still gets
// a proper error response, then writes it with status.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	writeJSONBytes(w, status, buf.Bytes())
	return nil
}

// writeJSONBytes sends b, a JSON document, with status.
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	// Once the status is sent, a failed write means the client left.
	w.Write(b) //nolint:errcheck
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	if err := refuseEventStream(r, "the liveness probe", "application/json"); err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Stopping makes /readyz answer 503 from now on, saying the server is
// shutting down, while every other route serves as before: a load balancer
// stops sending it new requests before the drain refuses them.
func (s *Server) Stopping() { s.stopping.Store(true) }

// errStopping is /readyz's answer once Stopping was called.
var errStopping = &detailError{kind: eventstore.ErrUnavailable,
	detail: "the server is shutting down: it still serves requests for now, but send new ones to another instance"}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := refuseEventStream(r, "the readiness probe", "application/json"); err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	if s.stopping.Load() {
		return errStopping
	}
	// The check is shared with calls at once, and past
	// readyzChecksPerSecond a second waited for (readyCheck).
	check, err := s.readyCheck(r.Context())
	if err != nil {
		return s.notReady(err)
	}
	// An index that only the reads of the log filtered on stream or event
	// types use, missing, is Ping's partial finding (returned once the
	// rest passed): those reads answer 503 naming it, and /readyz 200,
	// naming it too. Every instance on the database lacks it alike: a 503
	// took them all out of their load balancer, appends and every other
	// read with them.
	// So is a column the store does not write, NOT NULL without a
	// default, found by looking (Table set, no database error): only the
	// appends that insert into its table fail, and reads go on, so /readyz
	// says appends are refused, naming it, and stays 200.
	missing, unwritten, err := pingFinding(check.err)
	if err != nil {
		return s.notReady(err)
	}
	s.sayIndexMissing(missing)
	type replicaLag struct {
		LagPositions int64 `json:"lag_positions"`
		LagSeconds   int64 `json:"lag_seconds"`
		Replicating  bool  `json:"replicating"`
	}
	var answer struct {
		Status  string      `json:"status"`
		Replica *replicaLag `json:"replica,omitempty"`
		// Appends, Cause, Reason and Since: only while appends are
		// refused (appendsRefused), still 200: reads are served.
		Appends string `json:"appends,omitempty"`
		Cause   string `json:"cause,omitempty"`
		Reason  string `json:"reason,omitempty"`
		Since   string `json:"since,omitempty"`
		// FilteredReads and MissingIndex: only while an index the
		// filtered reads of the log need is missing, still 200.
		FilteredReads string `json:"filtered_reads,omitempty"`
		MissingIndex  string `json:"missing_index,omitempty"`
		// LiveFeed, LiveFeedReason and LiveFeedSince: only while the
		// live feed has not read the log for FeedStaleAfter, still 200.
		LiveFeed       string `json:"live_feed,omitempty"`
		LiveFeedReason string `json:"live_feed_reason,omitempty"`
		LiveFeedSince  string `json:"live_feed_since,omitempty"`
	}
	answer.Status = "ok"
	if missing != nil {
		answer.FilteredReads, answer.MissingIndex = "refused", missing.Index
	}
	if s.opts.Replica != nil {
		// Reads and appends are served by two servers: both must answer.
		if check.lagErr != nil {
			return s.notReady(check.lagErr)
		}
		lag := check.lag
		answer.Replica = &replicaLag{lag.Positions, lag.Seconds, lag.Replicating}
	}
	s.readyAgain()
	if cause, since := s.appendsRefused.state(); cause != "" {
		answer.Appends, answer.Cause, answer.Reason = "refused", cause, refusingCauses[cause]
		answer.Since = since.UTC().Format(time.RFC3339)
	} else if unwritten != nil {
		// The ping's finding now, not an append's: no since. The names
		// are the schema's, read by the store, never a client's.
		answer.Appends, answer.Cause = "refused", causeUnwrittenColumn
		answer.Reason = "The database's table " + unwritten.Table + " has a column " + unwritten.Table + "." + unwritten.Column +
			" that the store does not write, NOT NULL and without a default: " + unwrittenRefuses(unwritten.Table) +
			" until an operator " + cmp.Or(unwritten.Mend, "drops the column or gives it a default") + " (reads are served)."
	}
	if since, stalled := s.feedStalled(); stalled {
		answer.LiveFeed, answer.LiveFeedReason = "stalled", feedStalledReason
		answer.LiveFeedSince = since.UTC().Format(time.RFC3339)
	}
	if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok && (answer.Appends != "" || answer.FilteredReads != "" || answer.LiveFeed != "") {
		e.degraded = true // its access line at INFO (accessEntry.done)
	}
	return writeJSON(w, http.StatusOK, answer)
}

// defaultFeedStaleAfter is Options.FeedStaleAfter unless set: past the
// longest a poll may rightly take (a lock or a commit's answer waited on,
// 30 s at most on MySQL) and many polls.
const defaultFeedStaleAfter = 30 * time.Second

// feedStalledReason is /readyz's reason while the live feed is stalled: a
// fixed sentence (/readyz needs no token).
const feedStalledReason = "The live feed has not read the log since live_feed_since while the database answers: " +
	"subscriptions get no new events (reads and appends are served); the log says why, if the feed's reads fail."

// feedStalled reports whether the live feed has gone FeedStaleAfter
// without reading the log, and since when. The feed's poll may fail, or
// hang, while the database answers /readyz's ping: subscribers get nothing
// then. /readyz stays 200 (a cause in the database stalls every instance's
// feed alike, and a 503 would take their reads and appends out too), and
// says so in its body; its start is logged once at WARN, its end once.
func (s *Server) feedStalled() (time.Time, bool) {
	if s.opts.Feed == nil {
		return time.Time{}, false
	}
	last, bound := s.opts.Feed.LastPoll(), cmp.Or(s.opts.FeedStaleAfter, defaultFeedStaleAfter)
	if last.IsZero() {
		return time.Time{}, false // a feed that cannot say (Feed.LastPoll)
	}
	s.feedMu.Lock()
	defer s.feedMu.Unlock()
	// Probes at once: one that read LastPoll before the feed's next
	// read, judging after one that read it after, would set the stall
	// again (its WARN logged again, and the end's INFO at the next
	// probe): the newest reading judged stands.
	if last.Before(s.feedSeen) {
		last = s.feedSeen
	}
	s.feedSeen = last
	stalled := time.Since(last) >= bound
	if s.feedStale != stalled {
		s.feedStale = stalled
		if stalled {
			s.log.Warn("readyz: the live feed has not read the log for long while the database answers: subscriptions get no new events; "+
				"answering 200, saying so", "last_poll", last.UTC().Format(time.RFC3339), "stale_after", bound)
		} else {
			s.log.Info("readyz: the live feed reads the log again")
		}
	}
	return last, stalled
}

// sayIndexMissing logs, once, that /readyz found an index of the filtered
// reads' missing (missing), and once that it is there again (nil): the
// embedded store says it nowhere else but in each filtered read's 503.
func (s *Server) sayIndexMissing(missing *eventstore.MissingError) {
	if s.indexMissing.Swap(missing != nil) == (missing != nil) {
		return
	}
	if missing != nil {
		s.log.Warn("readyz: an index of the database's is missing: the reads of the log filtered on stream or event types that use it "+
			"answer 503 until it is made again, not every filtered read (on MySQL, those naming several stream or event types); "+
			"answering 200, naming it (every other request is served)", "index", missing.Index, "error", s.redactError(missing))
		return
	}
	s.log.Info("readyz: the index of the filtered reads is there again")
}

// probeError is /readyz's 503 for the database (notReady).
type probeError struct{ err error }

func (e *probeError) Error() string { return e.err.Error() }
func (e *probeError) Unwrap() error { return e.err }

// readyzCauseEvery is the least time between two lines of a changed cause
// of one outage of /readyz's (notReady): a cause that flaps (a timeout, a
// refusal, a timeout) is said once a minute at most.
const readyzCauseEvery = time.Minute

// notReady is /readyz's answer for err. A database out of service fails
// every probe for as long as it lasts, from each load balancer every few
// seconds: two ERROR lines each flooded the log. Its start is logged once,
// at warning level with its cause, and its end once (readyAgain), as the
// live feed logs its own; each probe's lines stay below (writeError). A
// cause that changes while it lasts (unreachable, then the service's user
// refused once the server is back) is logged once too, at most one change
// each readyzCauseEvery: only the first was, and the log said unreachable
// of a server that answered. Any other error (a 500) is answered, and
// logged, as any request's.
func (s *Server) notReady(err error) error {
	cause := storeCause(err)
	if cause == "" {
		return err
	}
	o := &s.outage
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case !s.unready.Load():
		s.unready.Store(true)
		o.cause, o.change = cause, time.Time{}
		s.log.Warn("readyz: the database is out of service; answering 503 until it is back", "cause", cause, "error", s.redactError(err))
	case cause != o.cause && (o.change.IsZero() || time.Since(o.change) >= time.Duration(s.readyzCauseEvery.Load())):
		s.log.Warn("readyz: the database is still out of service, for another cause; answering 503 until it is back",
			"cause", cause, "was", o.cause, "error", s.redactError(err))
		o.cause, o.change = cause, time.Now()
	}
	return &probeError{err}
}

// readyAgain logs the end of what notReady logged the start of, if any.
func (s *Server) readyAgain() {
	if !s.unready.Load() {
		return
	}
	s.outage.mu.Lock()
	defer s.outage.mu.Unlock()
	if s.unready.Load() {
		s.unready.Store(false)
		s.log.Info("readyz: the database is back; answering 200")
	}
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	if err := refuseEventStream(r, "the contract", "application/yaml"); err != nil {
		return err
	}
	if _, err := query(r); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.opts.OpenAPI)))
	// Once the status is sent, a failed write means the client left.
	w.Write(s.opts.OpenAPI) //nolint:errcheck
	return nil
}

// etag renders a stream version as a strong entity tag.
func etag(version int64) string {
	return `"` + strconv.FormatInt(version, 10) + `"`
}

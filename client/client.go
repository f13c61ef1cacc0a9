// Package client is a Go client for Tributary's HTTP API: append with
// expected versions, read streams and the global log page by page as
// iterators, and subscribe with automatic resumption. It depends only on the
// standard library and github.com/google/uuid.
//
//	c, err := client.New("http://localhost:8080", client.WithToken(token))
//	if err != nil { … } // a URL or token New refuses: c is nil
//	defer c.Close()
//	res, err := c.Append(ctx, client.StreamRef{ID: id, Type: "order"}, client.Exactly(3),
//		client.NewEvent{Type: "OrderShipped", Data: map[string]any{"carrier": "DHL"}})
//	if errors.Is(err, client.ErrWrongExpectedVersion) { … }
//	for e, err := range c.ReadStream(ctx, id, client.ReadStreamOptions{}) { … }
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	gopath "path"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/tributary-dev/tributary/internal/linkheader"
)

// Client talks to one Tributary server. It is safe for concurrent use.
// Make it with New: each call of a Client not made so fails with an error.
type Client struct {
	base  *url.URL
	token string
	// user is the base URL's user information, taken out of it: sent as
	// Basic authentication, as net/http sends it, but never in a URL,
	// which net/http quotes in its errors, user name and all.
	user *url.Userinfo
	http *http.Client
	// own is the transport New made, when c sends with it: the one whose
	// idle connections Close may close.
	own *http.Transport
	// standStill bounds how long a read asks again for an empty page whose
	// next link stays where it is (standStillFor; tests shorten it).
	standStill time.Duration
	// timeout bounds each request but a subscription's (WithRequestTimeout);
	// 0: none.
	timeout time.Duration
	// readRetries is how many times a read is sent again (WithReadRetries).
	readRetries int
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends token as Authorization: Bearer with every request, for a
// server started with TRIBUTARY_API_TOKENS. A token that holds a line
// break or another control character, which no header can carry, makes
// New fail.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithRequestTimeout bounds each request of an append, a stream's
// description or a read's page, its answer read to the end included, to d
// (0 or less: no bound but the call's context); DefaultRequestTimeout
// without the option. A request cut there fails with an error that
// errors.Is ErrRequestTimeout (and context.DeadlineExceeded). It does not
// bound a subscription, whose connection lives as long as it is followed:
// SubscribeOptions.IdleTimeout cuts one that brings no byte, its answer's
// headers included, and a read's iteration, of many pages, is bounded
// page by page, never by the time its consumer takes.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = max(d, 0) }
}

// DefaultRequestTimeout is the request timeout of a client made without
// WithRequestTimeout: twice the server's default TRIBUTARY_REQUEST_TIMEOUT
// (30 s), so that the server's own 503, which says what went wrong, comes
// first. Raise it for a server whose timeout is longer.
const DefaultRequestTimeout = time.Minute

// ErrRequestTimeout is the error of a request the client cut at its
// request timeout (WithRequestTimeout): the server accepted it but did not
// answer, or not to the end, in time. An append's events may or may not be
// stored: send the batch again with the same event ids (events sent
// without IDs cannot be: see ErrOutcomeUnknown).
var ErrRequestTimeout = errors.New("no answer within the client's request timeout")

// ErrOutcomeUnknown is the error of an append that got no whole answer
// and may have stored its events: no answer (a connection lost, the
// request timeout), a success whose body was cut, an answer that is not
// the batch's or neither 201 nor 200. Send the batch again with the same
// event ids: the server stores it once, and answers a repeat with 200.
// Events sent without an ID (NewEvent.ID zero) had a random one for that
// call alone: sent again so, they are new events, stored a second time
// if the first call stored them; give events their IDs before the first
// sending, or else read the stream to see whether they are there before
// sending them again. A
// *Problem of status 500 or above may leave it unknown too (an append's
// 503 says which in its Detail); one below 500 is a refusal, and nothing
// was stored.
var ErrOutcomeUnknown = errors.New("whether the events are stored is unknown")

// WithHTTPClient makes the client send its requests with hc (nil: a
// transport of the client's own, as without the option). Its Timeout, which
// would cut subscriptions, is not used as net/http does: it is the request
// timeout, unless WithRequestTimeout is given, which bounds each request
// but a subscription's. hc stays the caller's: Close leaves its connections
// alone. The client sends with a copy of it whose CheckRedirect keeps the
// token, and an append's events, within the server's origin, then calls
// hc's.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.http = hc }
}

// WithReadRetries lets each read (Stream, and each page of ReadStream and
// ReadAll), which is safe to send again, be sent again up to n times when
// it got no answer for a reason that may pass (the connection refused,
// reset or closed before an answer, a timeout, a network operation that
// failed, over HTTP/2 a GOAWAY or a stream reset too; not a redirect
// refused, a TLS certificate not trusted, a handshake refused or plain
// HTTP answered to https, nor the caller's own errors, its RoundTripper
// refusing, a proxy's 407, a redirect to a scheme the transport does not
// speak or a Location that is no URL, which the next sending meets the
// same), an answer whose body was cut partway (reset or closed before
// its end: nothing of that page was handed over; an answer that came
// whole but is not JSON is not sent again), or a 429, 502, 503 or 504,
// each counted against n: after the answer's Retry-After, up to
// 5 minutes, or else after a backoff from 500 ms doubling up to 30 s,
// never past ctx's end, which ends the read with ctx's error. Tributary's
// own 503 without Retry-After, which it answers only where no retry
// mends it (an index or table missing, a damaged file: an operator must,
// and its Detail says how), is returned at once. The last
// error is returned as it came (a *Problem matching ErrUnavailable, say).
// Default 0: a read fails at its first error. Appends are never sent again
// by the client (see Append), nor is a read cut by the request timeout.
func WithReadRetries(n int) Option {
	return func(c *Client) { c.readRetries = max(n, 0) }
}

// New returns a client for the server at baseURL, e.g. http://localhost:8080.
// User information in it (https://user:password@host, for a gateway) is
// sent as Basic authentication, unless WithToken is given, and is never
// quoted in an error. New fails for a URL that is not http(s) with a host,
// or that has a query, which every request, writing its own, would leave
// out, and for a token no header can carry (WithToken).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: the server URL must be http(s)://host[:port], got %q", shownURL(baseURL))
	}
	if u.RawQuery != "" {
		// Every request writes its own query: this one would be left
		// out of them all (a gateway's key, refused without a word).
		// Its names are shown, its values (a key among them) never, nor
		// a part without a name (?key alone may be the key itself).
		var names []string
		for pair := range strings.SplitSeq(u.RawQuery, "&") {
			if name, _, named := strings.Cut(pair, "="); named && name != "" {
				names = append(names, name+"=…")
			} else if pair != "" {
				names = append(names, "…")
			}
		}
		u.RawQuery = ""
		return nil, fmt.Errorf("client: the server URL %q has a query (%s), which the client's requests, each writing its own, would leave out: give what a gateway needs in a header (WithHTTPClient, with a transport that sets it)", shownURL(u.String()), strings.Join(names, "&"))
	}
	// A fragment is never sent.
	u.ForceQuery, u.Fragment, u.RawFragment = false, "", ""
	c := &Client{base: u, user: u.User, standStill: standStillFor, timeout: -1} // -1: not given
	u.User = nil
	for _, o := range opts {
		if o != nil { // a conditional option not taken
			o(c)
		}
	}
	if why := unsendable(c.token); why != "" {
		// net/http refuses to send it, saying only that Authorization is
		// invalid, and a subscription took that for a network error and
		// tried again for ever.
		return nil, fmt.Errorf("client: the token holds %s, which no HTTP header can carry (a token read from a file keeps its last line break: trim it)", why)
	}
	hc := &http.Client{}
	if c.http != nil {
		// A copy, whose CheckRedirect is the client's: the caller's own
		// http.Client is left as it is.
		*hc = *c.http
		if c.timeout < 0 && hc.Timeout > 0 {
			c.timeout = hc.Timeout
		}
		// It would cut every subscription, as long as it is followed, at
		// the Timeout, and one whose headers come later, for ever.
		hc.Timeout = 0
	} else if t, ok := http.DefaultTransport.(*http.Transport); ok {
		// A copy of http.DefaultTransport rather than that one, which the
		// whole process shares: Close closes this one's idle connections
		// without touching anyone else's. A program that put a transport
		// of another type there (to trace, say) gets it, as before.
		c.own = t.Clone()
		// net/http keeps 2 idle connections a host by default: a client
		// of one host whose goroutines make calls at once closed all but
		// two of their connections after each and dialled them again.
		// The server closes idle connections it needs room for.
		c.own.MaxIdleConnsPerHost = max(c.own.MaxIdleConnsPerHost, idleConnections)
		hc.Transport = c.own
	}
	if c.timeout < 0 {
		c.timeout = DefaultRequestTimeout
	}
	hc.CheckRedirect = keepInOrigin(hc.CheckRedirect, c.underBase)
	c.http = hc
	return c, nil
}

// idleConnections is how many idle connections to the server the
// client's own transport keeps: as many as http.DefaultTransport keeps
// for all hosts.
const idleConnections = 100

// unsendable returns what in v a header field's value cannot carry (RFC
// 9110 §5.5: a control character other than a tab), or "". It names the
// character, never quotes v, which is a secret.
func unsendable(v string) string {
	for i := 0; i < len(v); i++ {
		switch b := v[i]; {
		case b == '\n' || b == '\r':
			return fmt.Sprintf("a line break (byte %d of %d)", i+1, len(v))
		case b < ' ' && b != '\t' || b == 0x7f:
			return fmt.Sprintf("a control character (%#02x, byte %d of %d)", b, i+1, len(v))
		}
	}
	return ""
}

// shownURL is s as an error may quote it: without its user information,
// whose password, or user name, may be a secret (https://TOKEN@host),
// whether or not s parses as a URL.
func shownURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Opaque == "" {
		if u.User != nil {
			u.User = url.User("xxxxx")
		}
		return u.String()
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return "…" + s[i:]
	}
	return s
}

// keepInOrigin returns a CheckRedirect that sends the token, and a
// request's body, only to the origin of the first request (its scheme,
// host and port), or to an upgrade of it to https on the same host, and
// there under the base URL's path (under reports it: two services on one
// origin each keep their token, as a next link out of the path is
// refused), then
// does what next does (nil: net/http's default, at most 10 redirects).
// net/http itself sends Authorization on to any target whose host name is
// the first one's or a subdomain of it, whatever its scheme and port: a
// redirect from https to http sent the token in the clear, and one to
// another port, to another service. It follows a 307 or 308 with the body
// to any target: an append's events went to a service the client was
// never configured for. A redirect elsewhere is followed without the
// token, one that would send the body there is refused. net/http drops
// the token at the first host written in another case (LOCALHOST for
// localhost, the same origin), and after a hop elsewhere: a redirect to
// the origin and under the base path gets it again.
func keepInOrigin(next func(*http.Request, []*http.Request) error, under func(*url.URL) bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		from, to := via[0].URL, req.URL
		elsewhere := ""
		switch {
		case sameOrigin(from, to):
			if !under(to) {
				elsewhere = "out of the base URL's path"
			}
		case !upgradeOf(from, to):
			elsewhere = "another origin than the server's"
		case !under(to):
			// An upgrade keeps the path; one that leaves the base path
			// is another service's, as on the server's own origin.
			elsewhere = "out of the base URL's path"
		}
		if elsewhere != "" {
			if req.Body != nil && req.Body != http.NoBody {
				// net/http gives a 307's or 308's request the body again;
				// a 301's, 302's or 303's is a GET without one.
				status := "a redirect"
				if req.Response != nil {
					status = "a " + strconv.Itoa(req.Response.StatusCode)
				}
				return &redirectRefused{fmt.Errorf("%s to %s, %s: the client sends its requests' bodies to the server's origin and base path only, and sent nothing there",
					status, shownPath(to.Redacted()), elsewhere)}
			}
			req.Header.Del("Authorization")
		} else if auth := via[0].Header.Get("Authorization"); auth != "" {
			// net/http compares hosts as written: it dropped the token at
			// the server's own host in another case (LOCALHOST for
			// localhost), or after a hop elsewhere, and the request
			// went without it, to a 401.
			req.Header.Set("Authorization", auth)
		}
		if next != nil {
			// net/http knows ErrUseLastResponse by ==: it goes back as it is.
			err := next(req, via)
			if err != nil && err != http.ErrUseLastResponse { //nolint:errorlint // compared as net/http does
				return &redirectRefused{err}
			}
			return err
		}
		if len(via) >= 10 {
			return &redirectRefused{errors.New("stopped after 10 redirects")}
		}
		return nil
	}
}

// redirectRefused is a redirect the client's CheckRedirect refused: the
// eleventh in a row (a loop), one that would send a body to another
// origin, or one the caller's own refused. The next request meets it
// again: a subscription ends on it.
type redirectRefused struct{ err error }

func (e *redirectRefused) Error() string { return "redirect refused: " + e.err.Error() }
func (e *redirectRefused) Unwrap() error { return e.err }

// sameOrigin reports whether a and b have the same scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return sameHost(a.Hostname(), b.Hostname()) && a.Scheme == b.Scheme && port(a) == port(b)
}

// upgradeOf reports whether to is from's origin upgraded to https: the
// same host, its scheme https where from's is http, any port. The token
// goes there too (keepInOrigin).
func upgradeOf(from, to *url.URL) bool {
	return sameHost(from.Hostname(), to.Hostname()) && from.Scheme == "http" && to.Scheme == "https"
}

// sameHost reports whether two hosts of URLs are one: names compared in
// lower case (RFC 6454 §4), IPv6 addresses as addresses, whose text has
// many forms ([::1] and [0:0:0:0:0:0:0:1]), as a browser compares them.
// A name with a trailing dot is another name (RFC 6454 compares them as
// written, and a resolver with search domains may find another machine
// for the one without), and an IPv4 address mapped into IPv6 another
// address than the IPv4 one. An IPv6 address's zone (fe80::1%eth0) names
// an interface, whose name is case-sensitive (eth0 and ETH0 are two): it
// is compared as written, never in any case.
func sameHost(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX == nil || errY == nil {
		return errX == nil && errY == nil && x == y
	}
	return strings.EqualFold(a, b)
}

// port is u's port, the scheme's default if it names none, as the number
// it is: :0080 is port 80, which net/http dials, and so the same origin.
func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			return strconv.FormatUint(n, 10)
		}
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// Close closes the idle connections (kept for 90 s otherwise) of the
// transport the client made itself, a copy of http.DefaultTransport's
// settings when New ran; it never closes those of an http.Client given
// with WithHTTPClient, which stay the caller's to close, nor those of
// http.DefaultTransport when a program put another type there. It does not end requests or subscriptions in progress: end
// them with their contexts first. The client may still be used after
// Close, on new connections. It returns nil. On a nil *Client, what New
// returns with its error, it does nothing: a Close deferred before that
// error was checked does not panic over it.
func (c *Client) Close() error {
	if c != nil && c.own != nil {
		c.own.CloseIdleConnections()
	}
	return nil
}

// Event is one recorded event.
type Event struct {
	ID         uuid.UUID `json:"id"`
	StreamID   uuid.UUID `json:"stream_id"`
	StreamType string    `json:"stream_type"`
	// Version is the event's place in its stream: 1, 2, 3 …
	Version int64 `json:"version"`
	// Position is its place in the global log, in commit order.
	Position int64  `json:"position"`
	Type     string `json:"type"`
	// Data is the event's JSON exactly as it was appended.
	Data json.RawMessage `json:"data"`
	// Metadata is a JSON object, or nil.
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// Stream describes a stream.
type Stream struct {
	ID        uuid.UUID `json:"stream_id"`
	Type      string    `json:"stream_type"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StreamRef names the stream to append to. Type is required when the stream
// is new; on an existing stream it may be empty, and otherwise must equal
// the stream's type (ErrStreamTypeMismatch).
type StreamRef struct {
	ID   uuid.UUID
	Type string
}

// NewEvent is an event to append.
type NewEvent struct {
	// ID makes retries safe: the same batch sent again with the same ids is
	// stored once. Zero: Append gives the event a random id, a new one at
	// each call; a caller that may append the batch again (after an error
	// that leaves unknown whether it was stored: a lost answer, a 503, ctx
	// ending mid-request) must set the ids itself.
	ID   uuid.UUID
	Type string
	// Data is encoded with encoding/json, without HTML escaping; a
	// json.RawMessage is sent as is, byte for byte, once checked to be JSON.
	Data any
	// Metadata, if not nil, must encode to a JSON object.
	Metadata any
}

// ExpectedVersion is the condition an append sets on its stream's version.
type ExpectedVersion struct {
	kind    byte // 0 any, 'n' no stream, 'e' exists, 'x' exactly
	version int64
}

var (
	// Any appends whatever the stream's version.
	Any = ExpectedVersion{}
	// NoStream appends only if the stream does not exist yet.
	NoStream = ExpectedVersion{kind: 'n'}
	// StreamExists appends only if the stream exists.
	StreamExists = ExpectedVersion{kind: 'e'}
)

// Exactly appends only if the stream is at version v (0: does not exist).
func Exactly(v int64) ExpectedVersion { return ExpectedVersion{kind: 'x', version: v} }

// String is what an error says of e: "any", "no stream", "stream exists"
// or "version N".
func (e ExpectedVersion) String() string {
	switch e.kind {
	case 'n':
		return "no stream"
	case 'e':
		return "stream exists"
	case 'x':
		return "version " + strconv.FormatInt(e.version, 10)
	}
	return "any"
}

// AppendResult is what an append stored.
type AppendResult struct {
	StreamID   uuid.UUID `json:"stream_id"`
	StreamType string    `json:"stream_type"`
	// Version is the stream's version after the batch.
	Version int64 `json:"version"`
	// Events holds where each event of the batch went, in the batch's
	// order: Append checks that the answer says so of every id it sent.
	Events []RecordedEvent `json:"events"`
	// Duplicate reports that the server answered 200 rather than 201: the
	// batch was stored already, and the last sending wrote nothing. That
	// sending may be this call's own: net/http sends an append again on a
	// new connection when a kept-alive one is closed after the server read
	// it, and where the first sending was stored the second is answered
	// 200. So Duplicate says the batch is stored, once, not that another
	// call stored it: treat it as a success like any other, and tell
	// "stored by an earlier attempt" by what the caller keeps of its own
	// attempts (an earlier ErrOutcomeUnknown), never by this field.
	Duplicate bool `json:"-"`
}

// RecordedEvent is where an append put one event.
type RecordedEvent struct {
	ID         uuid.UUID `json:"id"`
	Version    int64     `json:"version"`
	Position   int64     `json:"position"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Append appends events to a stream, atomically, if its version meets
// expected. A conflict is a *Problem that errors.Is ErrWrongExpectedVersion,
// with the stream's version in its CurrentVersion (use errors.As). Append
// sends its request once, but for net/http sending it again, ids and all,
// on a new connection when a kept-alive one was closed as it was sent
// (the server stores a batch once, and answers a repeat with 200);
// events without an ID get a random one for this call only, so to retry
// an append safely, give its events IDs. Only a 201
// or a 200 to the POST itself is a success: a redirect that net/http
// follows with a GET, a 307 or 308 to another origin than the server's (or
// https on its host), which it does not send the events to, or any other
// answer below 400, is an error that is
// no *Problem, and so is a success whose result is not the batch's (another
// stream or stream type, other ids, versions that do not add up or, in a
// 201, do not follow the version expected, positions that do not increase).
// An append that got no whole answer (no answer, the request timeout, ctx
// ending, a success whose body was cut, or one that is not the batch's)
// fails with an error that is ErrOutcomeUnknown: send it again with the
// same ids (events given none got new ones at each call, and would be
// stored again: see ErrOutcomeUnknown).
func (c *Client) Append(ctx context.Context, stream StreamRef, expected ExpectedVersion, events ...NewEvent) (*AppendResult, error) {
	// The body is written by hand: json.Marshal would compact and
	// HTML-escape a json.RawMessage, and the server stores data byte for byte.
	var b bytes.Buffer
	b.WriteByte('{')
	if stream.Type != "" {
		b.WriteString(`"stream_type":`)
		writeJSON(&b, stream.Type) //nolint:errcheck // a string always encodes
		b.WriteByte(',')
	}
	b.WriteString(`"events":[`)
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		id := e.ID
		if id == uuid.Nil {
			id = uuid.New()
		}
		ids[i] = id
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"` + id.String() + `","type":`)
		writeJSON(&b, e.Type) //nolint:errcheck // a string always encodes
		b.WriteString(`,"data":`)
		if err := writeJSON(&b, e.Data); err != nil {
			return nil, fmt.Errorf("append to %s: event %d data: %w", stream.ID, i, err)
		}
		if e.Metadata != nil {
			b.WriteString(`,"metadata":`)
			if err := writeJSON(&b, e.Metadata); err != nil {
				return nil, fmt.Errorf("append to %s: event %d metadata: %w", stream.ID, i, err)
			}
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	req, err := c.newRequest(ctx, http.MethodPost, "/streams/"+stream.ID.String()+"/events", nil, bytes.NewReader(b.Bytes()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	// The batch is idempotent, its ids the same in every sending of this
	// body: net/http then sends it again on a new connection when a
	// kept-alive one turns out closed as it was sent (a proxy's shorter
	// idle timeout), as it does a GET, rather than fail with EOF. A field
	// of no value says so to net/http without being sent.
	req.Header["Idempotency-Key"] = nil
	switch expected.kind {
	case 'n':
		req.Header.Set("If-None-Match", "*")
	case 'e':
		req.Header.Set("If-Match", "*")
	case 'x':
		req.Header.Set("If-Match", `"`+strconv.FormatInt(expected.version, 10)+`"`)
	}
	res, err := c.do(req, c.timeout)
	var p *Problem
	var redirect *redirectRefused
	if err != nil && !errors.As(err, &p) && !errors.As(err, &redirect) {
		// No answer: the request may have reached the server whole.
		return nil, fmt.Errorf("append to %s: %w: %w", stream.ID, err, ErrOutcomeUnknown)
	}
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", stream.ID, err)
	}
	defer closeBody(res.Body)
	if res.Request != nil && res.Request.Method != http.MethodPost {
		// A 301, 302 or 303 that net/http followed with a GET: the events
		// went nowhere, and the GET's answer is no append's.
		return nil, fmt.Errorf("append to %s: the server redirected the append to %s %s, which net/http follows without the events: nothing was appended there",
			stream.ID, res.Request.Method, shownPath(res.Request.URL.Redacted()))
	}
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("append to %s: the server answered %s, neither 201 Created nor 200 OK: %w",
			stream.ID, oneLine(res.Status, 60), ErrOutcomeUnknown)
	}
	var out AppendResult
	// About a hundred bytes an event, and far more than the server sends.
	if err := json.NewDecoder(boundedBody(res.Body, 64<<10+int64(len(events))<<10)).Decode(&out); err != nil {
		// A success whose result was cut: stored, most likely, but where?
		return nil, fmt.Errorf("append to %s: decode the answer: %w: %w", stream.ID, shortened(err), ErrOutcomeUnknown)
	}
	if err := out.describes(stream, expected, res.StatusCode == http.StatusCreated, ids); err != nil {
		return nil, fmt.Errorf("append to %s: the server answered %s with a result that is not the batch's (%w): %w",
			stream.ID, oneLine(res.Status, 60), err, ErrOutcomeUnknown)
	}
	out.Duplicate = res.StatusCode == http.StatusOK
	return &out, nil
}

// describes checks that r is where the batch of ids went in stream: one
// recorded event for each, in order, at consecutive versions up to
// r.Version and at increasing positions, in a stream of stream's type (if
// given). A 201 (fresh) must also start where expected says the stream
// was: a retry's 200 answers with the batch's first result, whatever the
// retry expects. A caller may take r.Events[i] for its i-th event, and
// r.Version for its next expected version.
func (r *AppendResult) describes(stream StreamRef, expected ExpectedVersion, fresh bool, ids []uuid.UUID) error {
	if r.StreamID != stream.ID {
		return fmt.Errorf("stream %s", r.StreamID)
	}
	if stream.Type != "" && r.StreamType != stream.Type {
		return fmt.Errorf("stream type %.130q, not %.130q", r.StreamType, stream.Type)
	}
	if len(r.Events) != len(ids) {
		return fmt.Errorf("%d events for %d", len(r.Events), len(ids))
	}
	for i, e := range r.Events {
		if e.ID != ids[i] {
			return fmt.Errorf("event %d is %s, not %s", i, e.ID, ids[i])
		}
		if want := r.Version - int64(len(ids)-1-i); e.Version != want || want < 1 {
			return fmt.Errorf("event %d at version %d of a stream at %d", i, e.Version, r.Version)
		}
		if e.Position < 1 {
			return fmt.Errorf("event %d at position %d", i, e.Position)
		}
		if i > 0 && e.Position <= r.Events[i-1].Position {
			return fmt.Errorf("event %d at position %d, after position %d", i, e.Position, r.Events[i-1].Position)
		}
	}
	if fresh && len(r.Events) > 0 && !expected.startsAt(r.Events[0].Version) {
		return fmt.Errorf("the first event at version %d, expecting %s", r.Events[0].Version, expected)
	}
	return nil
}

// startsAt reports whether a batch appended with e as its condition may
// have its first event at version first: the stream was at first-1.
func (e ExpectedVersion) startsAt(first int64) bool {
	switch e.kind {
	case 'n':
		return first == 1
	case 'e':
		return first > 1
	case 'x':
		return first == e.version+1
	}
	return true
}

// writeJSON writes v's JSON to b: a json.RawMessage as it is, once checked,
// anything else encoded with encoding/json, without HTML escaping.
func writeJSON(b *bytes.Buffer, v any) error {
	if raw, ok := v.(json.RawMessage); ok && raw != nil {
		if !json.Valid(raw) {
			// Why: a syntax error, or nesting past encoding/json's 10,000
			// levels (the server's bound too), which is JSON all the same.
			var why json.RawMessage
			err := json.Unmarshal(raw, &why)
			return fmt.Errorf("json.RawMessage %.40q: %w", raw, err)
		}
		b.Write(raw)
		return nil
	}
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // the newline Encode adds
	return nil
}

// Stream returns a stream's description; ErrNotFound if it does not
// exist, and an error if the answer describes another stream, or none.
func (c *Client) Stream(ctx context.Context, id uuid.UUID) (*Stream, error) {
	var out Stream
	u, err := c.url("/streams/"+id.String(), nil)
	if err == nil {
		_, _, _, err = c.getJSON(ctx, u, &out, 64<<10)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", id, err)
	}
	if out.ID != id {
		return nil, fmt.Errorf("stream %s: the server answered with the description of stream %s", id, out.ID)
	}
	return &out, nil
}

// Direction is the order of a stream read.
type Direction string

const (
	Forward  Direction = "forward"
	Backward Direction = "backward"
)

// ReadStreamOptions shape ReadStream.
type ReadStreamOptions struct {
	// From is the first version to read: default 1 forward, the last backward.
	From      int64
	Direction Direction
	// PageSize is how many events each request asks for (default the
	// server's, 100; at most 1000).
	PageSize int
	// MaxPageBytes bounds one page's answer, and so what the client holds
	// of it: default 256 MiB, room for 100 events of the server's default
	// largest (TRIBUTARY_MAX_EVENT_BYTES, 1 MiB) twice over. A longer page
	// ends the iteration with an error: ask for fewer events a page, or
	// raise it.
	MaxPageBytes int64
}

// ReadStream iterates over a stream's events, requesting page after page by
// following the server's Link rel="next" until the end. An error ends the
// iteration: ErrNotFound if the stream does not exist, an error if the
// server does not move on (an event out of order or again, or whose
// position does not grow with its version, a next link
// whose from is not past the page it came with and the events read, as
// links that go round in a cycle are, empty pages and all) or sends
// an event not asked for (another stream's, or one before From or the
// from of the next link that fetched its page, as a server that ignores
// the query sends), an error if a version is missing
// (a gap, or a read whose last page does not reach the stream's version,
// or version 1 backward, as a proxy that drops the Link field leaves it),
// an error if an answer is no page of events (JSON without an events
// array), an error at a next link that names another origin or leads out
// of the base URL's path (nothing is sent for it), ctx's error once ctx
// ends, even within a page already read.
func (c *Client) ReadStream(ctx context.Context, id uuid.UUID, opts ReadStreamOptions) iter.Seq2[Event, error] {
	q := url.Values{}
	if opts.From > 0 {
		q.Set("from", strconv.FormatInt(opts.From, 10))
	}
	if opts.Direction != "" {
		q.Set("direction", string(opts.Direction))
	}
	if opts.PageSize > 0 {
		q.Set("limit", strconv.Itoa(opts.PageSize))
	}
	// Versions 1, 2, 3 … without a gap, from From (or 1) to the stream's
	// version in the last page; backward, from From (or the stream's
	// version, if From is past it) down to 1.
	r := pageRead{what: "read stream " + id.String(), maxPage: opts.MaxPageBytes, asked: asked{stream: id},
		start: &Event{Version: max(opts.From, 1) - 1},
		// A later version commits later: its position grows too (the
		// start's, 0, is before any).
		after: func(prev, e Event) bool { return e.Version == prev.Version+1 && e.Position > prev.Position },
		end:   func(last, version int64) bool { return last >= version || max(opts.From, 1) > version },
		// from is the first version a page holds (1 if not given).
		cursor: cursor{param: "from", unset: 1, of: func(e Event) int64 { return e.Version + 1 }}}
	if opts.Direction == Backward {
		r.start, r.after = nil, func(prev, e Event) bool { return e.Version == prev.Version-1 && e.Position < prev.Position }
		r.end = func(last, version int64) bool { return last == 1 || version == 0 }
		// Backward, from is the last version a page holds (the stream's
		// if not given), and moves down.
		r.cursor = cursor{param: "from", unset: math.MaxInt64, down: true, of: func(e Event) int64 { return e.Version - 1 }}
		if opts.From > 0 {
			// At From or before it: From+1 overflows at math.MaxInt64,
			// which the server takes, as any From past the stream's end.
			r.start = &Event{Version: opts.From}
			r.first = func(start, e Event) bool { return e.Version <= start.Version }
		}
	}
	return c.pages(ctx, "/streams/"+id.String()+"/events", q, r)
}

// ReadAllOptions shape ReadAll.
type ReadAllOptions struct {
	// After is the position to read after (0: from the start).
	After int64
	// StreamTypes and EventTypes filter the log; empty: everything.
	StreamTypes, EventTypes []string
	// PageSize is how many events each request asks for.
	PageSize int
	// MaxPageBytes bounds one page's answer, as in ReadStreamOptions.
	MaxPageBytes int64
}

// ReadAll iterates over the global log in position order, from after
// opts.After to the current end, page by page. An empty page whose next
// link stays at its after, Tributary's answer at the log's head while a
// commit is not visible yet and a later one is, is asked again after a
// pause, for up to 10 s. Like ReadStream, it ends
// with an error if the server does not move on or sends an event not
// asked for (at or before After or the after of the next link that
// fetched its page, or one the filter leaves out) or answers
// with no page of events or a next link it does not follow (another
// origin, out of the base URL's path), and with ctx's error, delivering nothing more,
// once ctx ends. It also ends with an error at an event that is not its
// stream's next in the log, of the last 16,384 streams it met: a version
// again or going back, or one past the next (a version skipped), or, on a
// read from the log's start, a stream's first event past its version 1;
// but for versions growing, not checked where they cannot be known (a
// filter of event types, which leaves some out, or a stream first met on
// a read after a position).
func (c *Client) ReadAll(ctx context.Context, opts ReadAllOptions) iter.Seq2[Event, error] {
	q := filterQuery(opts.StreamTypes, opts.EventTypes)
	if opts.After > 0 {
		q.Set("after", strconv.FormatInt(opts.After, 10))
	}
	if opts.PageSize > 0 {
		q.Set("limit", strconv.Itoa(opts.PageSize))
	}
	return c.pages(ctx, "/events", q, pageRead{what: "read all", maxPage: opts.MaxPageBytes,
		asked: newAsked(uuid.Nil, opts.StreamTypes, opts.EventTypes),
		start: &Event{Position: max(opts.After, 0)},
		after: func(prev, e Event) bool { return e.Position > prev.Position },
		// after is the position a page starts after (0 if not given).
		cursor: cursor{param: "after", of: func(e Event) int64 { return e.Position }, waits: true},
		streams: func() *streamVersions {
			return &streamVersions{last: map[uuid.UUID]int64{}, fromStart: opts.After <= 0, gaps: len(opts.EventTypes) > 0}
		}})
}

// streamVersions checks, along one read of the log, that each stream's
// events come at its next version: in the log, a stream's versions 1, 2,
// 3 … come in position order without a gap, which the positions, which
// may have holes, do not show. A server that skipped an event of the log
// (a page cut short past a commit not yet visible), sent one again at
// another position, or a proxy that mixed pages, is told by the stream's
// next event. It knows the last version of the recentStreams streams met
// last: a stream met again after more, forgotten, is taken as met first.
type streamVersions struct {
	last   map[uuid.UUID]int64
	ring   []uuid.UUID // the streams known, the oldest at oldest once full
	oldest int
	// fromStart is set for a read from the log's start, while no stream
	// was forgotten: a stream met first must be at version 1.
	fromStart bool
	// gaps is set for a read filtered by event types, which leaves some
	// of a stream's versions out: they only grow.
	gaps bool
}

// recentStreams is how many streams a read of the log knows the last
// version of: about a megabyte at most.
const recentStreams = 1 << 14

// next returns why e is not the next event of its stream, or "", and
// takes it for the stream's last.
func (s *streamVersions) next(e *Event) string {
	last, known := s.last[e.StreamID]
	first := int64(1) // the version e must be at, if any
	switch {
	case e.Version < 1:
		return "with no version"
	case known && e.Version <= last:
		return fmt.Sprintf("after its version %d: again or out of order", last)
	case known && !s.gaps:
		first = last + 1
	case known || !s.fromStart || s.gaps:
		first = e.Version
	}
	if e.Version != first {
		where := fmt.Sprintf("after its version %d", last)
		if !known {
			where = "first in the log"
		}
		if e.Version-1 > first {
			return fmt.Sprintf("%s: versions %s are missing", where, span(first, e.Version-1))
		}
		return fmt.Sprintf("%s: version %d is missing", where, first)
	}
	if !known {
		if len(s.ring) < recentStreams {
			s.ring = append(s.ring, e.StreamID)
		} else {
			delete(s.last, s.ring[s.oldest])
			s.ring[s.oldest] = e.StreamID
			s.oldest = (s.oldest + 1) % recentStreams
			s.fromStart = false
		}
	}
	s.last[e.StreamID] = e.Version
	return ""
}

// pageRead is what pages needs to know of a read.
type pageRead struct {
	what    string // the read, for errors
	maxPage int64  // MaxPageBytes
	asked   asked  // what every event must be
	// after reports whether e comes after prev in the read's order; the
	// first event must come after start (nil: any may come first), or, if
	// first is set, be one that first takes for the start (a backward
	// read's: at its version or before it).
	after, first func(prev, e Event) bool
	start        *Event
	// end, if set, reports whether a stream's read that ends after the
	// version last (0 for none) has reached the end that a page of the
	// stream at version says it has (a page that does not say is not
	// checked).
	end func(last, version int64) bool
	// cursor is where a page's query says it starts.
	cursor cursor
	// streams, if set, makes the check of each stream's versions for a
	// read of the log, anew for each iteration.
	streams func() *streamVersions
}

// standStillFor is how long a read asks again for an empty page whose
// next link stays where it is, Tributary's answer at the log's head while
// a commit before a later one is not visible yet: twice the 5 s after
// which the server passes such a hole.
const standStillFor = 10 * time.Second

// cursor is the query parameter by which the server's next link says
// where its page starts (Tributary writes from or after), which must move
// on for the read to end: up, or down if down is set.
type cursor struct {
	param string
	unset int64 // where a page starts whose query does not say
	down  bool
	// waits is set for the log, whose empty page at its head may link
	// to itself until a commit shows (pages).
	waits bool
	// of is the least (most, if down) a page's cursor may be once e was
	// read: not before the event, nor at it.
	of func(e Event) int64
}

// at returns where a page of query q starts.
func (c cursor) at(q url.Values) (int64, error) {
	v := q.Get(c.param)
	if v == "" {
		return c.unset, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%.40q is not a number", c.param, v)
	}
	return n, nil
}

// holds reports whether e may be on a page at at: past it in the log (its
// after), at or past it in a stream (its from), at or before it backward.
func (c cursor) holds(at int64, e Event) bool { return c.before(at, c.of(e)) }

// before reports whether a is not past b, where the read goes.
func (c cursor) before(a, b int64) bool {
	if c.down {
		return a > b
	}
	return a < b
}

// movesOn returns why the page next does not start past page (a page's
// cursor, where it started) and the events read up to last (nil for none),
// or "": a link that does not move on leads to a page already read, and a
// read that follows such links never ends.
func (c cursor) movesOn(next, page int64, last *Event) string {
	switch {
	case !c.before(page, next):
		return fmt.Sprintf("%s=%d, from a page at %s=%d", c.param, next, c.param, page)
	case last != nil && c.before(next, c.of(*last)):
		return fmt.Sprintf("%s=%d, from a page whose last event is at version %d, position %d", c.param, next, last.Version, last.Position)
	}
	return ""
}

// asked is what a read or a subscription asked the server for, which its
// answer must hold to: one stream's events, or those of the filter.
type asked struct {
	stream uuid.UUID // uuid.Nil: any stream's
	// streamTypes and eventTypes are the filter's names, nil for none.
	streamTypes, eventTypes map[string]bool
}

func newAsked(stream uuid.UUID, streamTypes, eventTypes []string) asked {
	return asked{stream: stream, streamTypes: names(streamTypes), eventTypes: names(eventTypes)}
}

// names is the set of names a filter sends, each of list's split at its
// commas and trimmed of the spaces around it, as the server reads the
// query (README: `type=A, B` reads as written); nil for none. Untrimmed,
// " order" matched no event, and the server's right answer was taken for
// one the filter leaves out.
func names(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, l := range list {
		for _, n := range strings.Split(l, ",") {
			set[strings.TrimSpace(n)] = true
		}
	}
	return set
}

// not returns why e is not an event that was asked for, or "": another
// stream's, or one the filter leaves out, as the server matches them
// (names exactly, case and all). A server that ignores the filter, or a
// proxy that strips the query, sends such events.
func (a asked) not(e *Event) string {
	switch {
	case a.stream != uuid.Nil && e.StreamID != a.stream:
		return fmt.Sprintf("of stream %s, not %s", e.StreamID, a.stream)
	case a.streamTypes != nil && !a.streamTypes[e.StreamType]:
		return fmt.Sprintf("of stream type %.130q, which the filter leaves out", e.StreamType)
	case a.eventTypes != nil && !a.eventTypes[e.Type]:
		return fmt.Sprintf("of type %.130q, which the filter leaves out", e.Type)
	}
	return ""
}

func filterQuery(streamTypes, eventTypes []string) url.Values {
	q := url.Values{}
	if len(streamTypes) > 0 {
		q.Set("stream_type", strings.Join(streamTypes, ","))
	}
	if len(eventTypes) > 0 {
		q.Set("type", strings.Join(eventTypes, ","))
	}
	return q
}

// pages yields the events of path and of every page its next links lead
// to, each resolved against the page it came with, after any redirects
// (resolveLink). Each
// event must come after the one before it, by r.after, and each next link
// must start past the page it came with and the events read, by
// r.cursor: an event or a link that does not (links that go round in a
// cycle of any length, or stand still or go back, empty pages and all) is
// a server that does not move on, and ends the iteration with an error
// rather than yield events again, or request pages without end; but an
// empty page of the log whose link stays where it is, for up to
// c.standStill, is asked again after a pause. So does an event that was not asked for: one
// before the read's start or its page's (the after or from of the link
// that fetched it), of another stream, or one its filter leaves out, as
// a server that ignores the query (or a proxy that strips it) sends.
func (c *Client) pages(ctx context.Context, path string, q url.Values, r pageRead) iter.Seq2[Event, error] {
	what, maxPage, after := r.what, r.maxPage, r.after
	if maxPage <= 0 {
		maxPage = 256 << 20
	}
	return func(yield func(Event, error) bool) {
		u, err := c.url(path, q)
		if err != nil {
			yield(Event{}, fmt.Errorf("%s: %w", what, err))
			return
		}
		prev := r.start
		var streams *streamVersions
		if r.streams != nil {
			streams = r.streams()
		}
		at, err := r.cursor.at(u.Query())
		if err != nil {
			yield(Event{}, fmt.Errorf("%s: %w", what, err))
			return
		}
		// stood is how long the read has waited at at, pause the next wait.
		var stood, pause time.Duration
		for u != nil {
			var page struct {
				Events  []Event `json:"events"`
				Version *int64  `json:"version"` // a stream's page's
			}
			link, linked, from, err := c.getJSON(ctx, u, &page, maxPage)
			if err == nil && page.Events == nil {
				// Tributary's page holds "events":[…], empty or not; JSON
				// without it (null, {}, a gateway's default answer) is no
				// page, and taken for an empty one it ended the read as if
				// there were nothing more to read.
				err = fmt.Errorf("the answer to GET %s holds no events array: not a page of events", shownPath(u.RequestURI()))
			}
			var next *url.URL
			if err == nil && linked {
				next, err = c.resolveLink(from, link)
			}
			if errors.Is(err, errAnswerTooLong) {
				err = fmt.Errorf("%w: a page longer than MaxPageBytes; ask for fewer events a page (PageSize), or raise it", err)
			}
			if err != nil {
				yield(Event{}, fmt.Errorf("%s: %w", what, err))
				return
			}
			for _, e := range page.Events {
				if why := r.asked.not(&e); why != "" {
					yield(Event{}, fmt.Errorf("%s: the server sent event %s (version %d, position %d), %s: not an answer to this read",
						what, e.ID, e.Version, e.Position, why))
					return
				}
				if !r.cursor.holds(at, e) {
					// The link's after (from) says where the page starts:
					// an event before it is not what the link asked for
					// (a server or cache that answered another request),
					// and one a server that writes its link past its last
					// event had just said was not there.
					yield(Event{}, fmt.Errorf("%s: the server sent event %s (version %d, position %d) on a page at %s=%d: not an answer to this read",
						what, e.ID, e.Version, e.Position, r.cursor.param, at))
					return
				}
				switch {
				case prev == nil:
				case prev == r.start:
					first, start := r.first, fmt.Sprintf("after version %d, position %d", prev.Version, prev.Position)
					if first == nil {
						first = after
					} else {
						start = fmt.Sprintf("version %d or before it", prev.Version)
					}
					if !first(*prev, e) {
						yield(Event{}, fmt.Errorf("%s: the server sent event %s (version %d, position %d) first, not the read's start (%s): not an answer to this read",
							what, e.ID, e.Version, e.Position, start))
						return
					}
				case !after(*prev, e):
					yield(Event{}, fmt.Errorf("%s: the server sent event %s (version %d, position %d) after version %d, position %d: out of order, again, or with events missing between",
						what, e.ID, e.Version, e.Position, prev.Version, prev.Position))
					return
				}
				if streams != nil {
					if why := streams.next(&e); why != "" {
						yield(Event{}, fmt.Errorf("%s: the server sent event %s of stream %s at version %d (position %d) %s",
							what, e.ID, e.StreamID, e.Version, e.Position, why))
						return
					}
				}
				if err := ctx.Err(); err != nil { // the page is read: ctx has no say in it
					yield(Event{}, fmt.Errorf("%s: %w", what, err))
					return
				}
				if !yield(e, nil) {
					return
				}
				prev = &e
			}
			if next == nil && r.end != nil && page.Version != nil {
				last := int64(0)
				if prev != nil && prev != r.start {
					last = prev.Version
				}
				if !r.end(last, *page.Version) {
					yield(Event{}, fmt.Errorf("%s: the server ended the read after version %d of a stream at version %d: events are missing",
						what, last, *page.Version))
					return
				}
			}
			if next != nil {
				last := prev
				if last == r.start {
					last = nil
				}
				n, err := r.cursor.at(next.Query())
				why := ""
				if err != nil {
					why = err.Error()
				} else {
					why = r.cursor.movesOn(n, at, last)
				}
				if why != "" && err == nil && n == at && len(page.Events) == 0 && r.cursor.waits && stood < c.standStill {
					// Tributary's answer at the log's head while a commit is
					// not visible yet and a later one is (InnoDB shows one a
					// moment before the other): nothing yet, more to come,
					// here. Asked again after a pause, for as long as the
					// server may take to show or pass the hole.
					pause = min(max(2*pause, 10*time.Millisecond), 500*time.Millisecond, c.standStill-stood)
					t := time.NewTimer(pause)
					select {
					case <-ctx.Done():
						t.Stop()
						yield(Event{}, fmt.Errorf("%s: %w", what, ctx.Err()))
						return
					case <-t.C:
					}
					stood, why = stood+pause, ""
				}
				if why != "" {
					if stood > 0 {
						why += fmt.Sprintf(", empty pages for %v", stood)
					}
					yield(Event{}, fmt.Errorf("%s: the server's next link %s does not move on (%s): a read that followed it would never end",
						what, shownPath(next.RequestURI()), why))
					return
				}
				if n != at {
					stood, pause = 0, 0
				}
				at = n
			}
			u = next
		}
	}
}

// resolveLink resolves a next link against page, the URL its page came
// from after any redirects, per RFC 3986 §5: <?after=5> and
// <events?after=5> are relative to it, not to the root nor to the URL
// first asked for. The server writes its links from its own root, which
// is the base URL's path behind a proxy that strips a prefix, so a link
// with an absolute path stays under the base URL's path, unless it is
// already its page's path under it (a proxy that rewrote it); a link that
// names another origin (scheme, host or port) than the server's, or than
// the upgrade to https its page was redirected to (taken for its path and
// query on the server's origin), or that leads out of the base URL's path
// (underBase), is refused with an error, nothing sent for it. A relative link on a page that a redirect brought
// from another origin is taken for its path and query, on the server's
// origin, the only one the token goes to.
func (c *Client) resolveLink(page *url.URL, link string) (*url.URL, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("the server's next link %.200q is no URI reference: %s", link, parseError(err))
	}
	if ref.Scheme != "" || ref.Host != "" {
		// A link that names an origin (<http://other/…>, <//other/…>)
		// must name the server's, or the upgrade to https that the server
		// redirected this page's read to (taken for its path on the
		// server's origin, as a relative link on that page is): taken
		// so, a link to another origin read another resource than the
		// link's, silently.
		if u := page.ResolveReference(ref); !sameOrigin(u, c.base) && !(sameOrigin(u, page) && upgradeOf(c.base, page)) {
			u.User = nil
			return nil, fmt.Errorf("the server's next link %s names another origin than the server's (%s://%s): the client reads from the server's origin only, and sent nothing there",
				shownPath(u.String()), c.base.Scheme, c.base.Host)
		}
	}
	if ref.Scheme == "" && ref.Host == "" && ref.User == nil && !strings.HasPrefix(ref.EscapedPath(), "/") {
		u := page.ResolveReference(ref)
		u.User, u.Fragment, u.RawFragment = nil, "", ""
		if sameOrigin(u, c.base) {
			// A page a redirect took out of the base path has its
			// relative links there, where the server sent the read.
			if !c.underBase(u) && c.underBase(page) {
				return nil, c.outOfBase(link)
			}
			return u, nil
		}
		ref = u
	}
	path := ref.EscapedPath()
	if base := strings.TrimSuffix(c.base.EscapedPath(), "/"); base != "" && sameEscapedPath(path, page.EscapedPath()) && sameEscapedPath(prefixOf(path, base), base) {
		// Already its page's path, under the base path: a link a proxy
		// rewrote to its public URL, which put the base path there. Put
		// under it again, it named /tributary/tributary/events. (The
		// server's own link, from its root, is never its page's path
		// behind a base path: </events?…> on /tributary/events.)
		u := *c.base
		u.Path, u.RawPath, u.RawQuery = ref.Path, path, ref.RawQuery
		if !c.underBase(&u) {
			return nil, c.outOfBase(link)
		}
		return &u, nil
	}
	if path == "" {
		path = "/" // http://host?q is http://host/?q (RFC 3986 §6.2.3)
	}
	if ref.RawQuery != "" {
		path += "?" + ref.RawQuery
	}
	u, err := c.url(path, nil)
	if err == nil && !c.underBase(u) {
		return nil, c.outOfBase(link)
	}
	return u, err
}

// underBase reports whether u's path is the base URL's path or under it
// once its dot segments are resolved, as a proxy in front resolves them,
// %2e%2e included: two services on one origin (/a/, /b/) each have their
// own token. It must be under it read both ways a proxy may read it:
// segment by segment as escaped (acme%2Fprod is one segment and acme/prod
// two, another resource that reads the same unescaped), and unescaped
// first (a proxy that decodes %2F, as nginx's normalised URI does, reads
// /a%2F..%2F..%2Fb as /a/../../b), and unescaped with a backslash read as
// a slash (as IIS, some proxies and every browser's URL parser read it:
// /a/..%5C..%5Cb is /b there), and that way with each segment's
// parameters dropped (as Tomcat, Jetty and servlet proxies read it:
// /a/..;/b is /b there).
func (c *Client) underBase(u *url.URL) bool {
	if !segmentsUnder(pathSegments(u.EscapedPath()), pathSegments(c.base.EscapedPath())) {
		return false
	}
	backslashed := func(p string) string { return strings.ReplaceAll(p, `\`, "/") }
	return cleanUnder(u.Path, c.base.Path) && cleanUnder(backslashed(u.Path), backslashed(c.base.Path)) &&
		cleanUnder(paramless(backslashed(u.Path)), paramless(backslashed(c.base.Path)))
}

// paramless is the unescaped path p with each segment's parameters (from
// its first ';' on) dropped, as a servlet container drops them before it
// resolves dot segments: ..;x is .. there.
func paramless(p string) string {
	if !strings.Contains(p, ";") {
		return p
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if j := strings.IndexByte(s, ';'); j >= 0 {
			segs[i] = s[:j]
		}
	}
	return strings.Join(segs, "/")
}

// cleanUnder reports whether the unescaped path p, its dot segments
// resolved, is the unescaped path base or under it.
func cleanUnder(p, base string) bool {
	base, p = gopath.Clean("/"+base), gopath.Clean("/"+p)
	return base == "/" || p == base || strings.HasPrefix(p, base+"/")
}

// segmentsUnder reports whether the path segments p begin with base's.
func segmentsUnder(p, base []string) bool {
	if len(p) < len(base) {
		return false
	}
	for i, s := range base {
		if !sameSegment(s, p[i]) {
			return false
		}
	}
	return true
}

// pathSegments is the escaped path p's segments, its dot segments
// resolved (RFC 3986 §5.2.4), escaped ones (%2e%2e) too, and empty ones
// dropped, as a proxy that merges slashes drops them.
func pathSegments(p string) []string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		switch unescaped(s) {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	return segs
}

// sameEscapedPath reports whether two escaped paths are one, their
// escapes compared as what they stand for (%2f and %2F, %61 and a), an
// escaped slash still not a slash: segment by segment, as written.
func sameEscapedPath(a, b string) bool {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if !sameSegment(as[i], bs[i]) {
			return false
		}
	}
	return true
}

// prefixOf is as many of the escaped path p's first segments as the
// escaped path base has, if p has more (a path under it), or "".
func prefixOf(p, base string) string {
	n := strings.Count(base, "/")
	segs := strings.SplitN(p, "/", n+2)
	if len(segs) < n+2 {
		return ""
	}
	return strings.Join(segs[:n+1], "/")
}

// sameSegment reports whether two escaped path segments name the same
// one: %2F and %2f, or %61 and a, are one (RFC 3986 §6.2.2).
func sameSegment(a, b string) bool { return unescaped(a) == unescaped(b) }

// unescaped is the escaped path segment s unescaped, or s as it is if it
// holds a malformed escape.
func unescaped(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// outOfBase is the error of a next link that leads out of the base URL's
// path.
func (c *Client) outOfBase(link string) error {
	return fmt.Errorf("the server's next link %s leads out of the base URL's path %s: the client reads under it only, and sent nothing there",
		shownPath(link), shownPath(c.base.EscapedPath()))
}

// getJSON GETs u into out and returns the Link rel="next" as the server
// wrote it and whether there was one (<> is one, to the page itself), and
// the URL the answer came from, after any redirects, which
// a relative link is relative to. An answer longer than most bytes is an
// error, errAnswerTooLong. With WithReadRetries, a GET that got no answer,
// one that says to come back, or one whose body was cut partway is sent
// again (a Decoder reads a whole value before it fills out: a cut one
// leaves out as it was).
func (c *Client) getJSON(ctx context.Context, u *url.URL, out any, most int64) (next string, linked bool, from *url.URL, err error) {
	backoff := readBackoff
	for tries := 0; ; tries++ {
		var failed readFailure
		next, linked, from, failed, err = c.getJSONOnce(ctx, u, out, most)
		if err == nil {
			return next, linked, from, nil
		}
		var wait time.Duration
		again := false
		switch failed {
		case beforeAnswer:
			wait, again = readAgain(ctx, err)
		case answerCut:
			// Whatever the transport's error (a reset, an end too soon, an
			// HTTP/2 stream reset), but the client's own ends.
			again = ctx.Err() == nil && !errors.Is(err, ErrRequestTimeout)
		}
		if !again || tries >= c.readRetries {
			return "", false, nil, err
		}
		t := time.NewTimer(max(wait, backoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return "", false, nil, fmt.Errorf("GET %s: waiting to send it again after %w: %w", shownPath(u.RequestURI()), err, context.Cause(ctx))
		case <-t.C:
		}
		backoff = doubled(backoff, maxReadBackoff)
	}
}

// readFailure is how one GET of getJSON's failed, which says whether it
// may be sent again.
type readFailure int

const (
	failsAgain   readFailure = iota // a whole answer, or no request made: the same again
	beforeAnswer                    // no answer, or an error's (readAgain decides)
	answerCut                       // the answer's body cut partway by its transport
)

// getJSONOnce is one GET of getJSON's, and how it failed: before an
// answer, or with one whose body was cut partway (its transport's error,
// not JSON's: an answer that came whole is the same sent again).
func (c *Client) getJSONOnce(ctx context.Context, u *url.URL, out any, most int64) (next string, linked bool, from *url.URL, failed readFailure, err error) {
	req, err := c.request(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, nil, failsAgain, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.do(req, c.timeout)
	if err != nil {
		return "", false, nil, beforeAnswer, err
	}
	defer closeBody(res.Body)
	body := &cutBody{r: res.Body}
	if err := json.NewDecoder(boundedBody(body, most)).Decode(out); err != nil {
		failed = failsAgain
		if body.err != nil {
			failed = answerCut
		}
		return "", false, nil, failed, fmt.Errorf("decode the answer to GET %s: %w", shownPath(u.RequestURI()), shortened(err))
	}
	from = u
	if res.Request != nil && res.Request.URL != nil {
		from = res.Request.URL
	}
	next, linked = nextLink(res.Header, from)
	return next, linked, from, failsAgain, nil
}

// cutBody reads an answer's body and keeps the error that cut it short
// (a reset, the connection closed before its end), io.EOF, its end, not.
type cutBody struct {
	r   io.Reader
	err error
}

func (b *cutBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil { //nolint:errorlint // io.EOF is returned as it is, never wrapped
		b.err = err
	}
	return n, err
}

// readBackoff and maxReadBackoff bound the wait before a read is sent
// again (WithReadRetries) when the server did not say how long.
const (
	readBackoff    = 500 * time.Millisecond
	maxReadBackoff = 30 * time.Second
)

// readAgain reports whether a read that failed with err may be sent again
// (WithReadRetries), and the least wait the server asked for: it got no
// answer (refused, reset, closed before one, over HTTP/2 a GOAWAY or a
// stream reset too) or an answer that says to come back (429, 502, 503,
// 504), and ctx has not ended.
func readAgain(ctx context.Context, err error) (time.Duration, bool) {
	if ctx.Err() != nil || errors.Is(err, ErrRequestTimeout) {
		return 0, false
	}
	if p, ok := errors.AsType[*Problem](err); ok {
		if p.operatorMends() {
			return 0, false // the server said at once that no retry mends it
		}
		switch p.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return min(p.RetryAfter, maxServerWait), true
		}
		return 0, false
	}
	// No answer, and an error that may pass: a connection refused, reset
	// or closed, a timeout, HTTP/2's server going away (GOAWAY, then the
	// connection closed) or resetting the stream; not one the next
	// request meets the same (a redirect refused, a certificate not
	// trusted, a handshake refused, plain HTTP answered to https), nor
	// the caller's own (its RoundTripper refusing, a proxy's 407, a
	// redirect to a scheme the transport does not speak, a Location that
	// is no URL), which were sent again n times, up to 30 s apart.
	return 0, unmendable(err) == "" && mayPass(err)
}

// connectionLost holds the texts of net/http's errors of a connection
// lost or going away, unexported values of errors.New (Go 1.26), which
// Go gives no other way to know: TestGoStillWordsTheErrorsMayPassKnows
// fails if a Go upgrade rewords one.
var connectionLost = map[string]bool{
	"http: server closed idle connection":                         true,
	"http2: client conn is closed":                                true,
	"http2: client conn not usable":                               true,
	"http2: client conn could not be established":                 true,
	"http2: Transport received Server's graceful shutdown GOAWAY": true,
	"http2: client connection lost":                               true,
	"http2: stream closed":                                        true,
}

// http2Errors holds the names of net/http's HTTP/2 error types that have
// no exported form or As (Go 1.26): GOAWAY and connection errors, which
// the bundled copy of golang.org/x/net/http2 keeps unexported, and the
// stand-alone package's, for a transport built on it. The stream error
// has an As (h2StreamError), and is known by it.
// TestGoStillWordsTheErrorsMayPassKnows fails if a Go upgrade renames one.
var http2Errors = map[string]bool{
	"http.http2GoAwayError": true, "http.http2ConnectionError": true,
	"http2.GoAwayError": true, "http2.ConnectionError": true,
}

// h2StreamError has the fields of golang.org/x/net/http2's StreamError,
// which net/http's unexported one converts itself to through its As
// method (net/http/h2_error.go), whatever Go names it: an HTTP/2 stream
// reset, the server's (RST_STREAM) or the transport's.
type h2StreamError struct {
	StreamID uint32
	Code     uint32
	Cause    error
}

func (e h2StreamError) Error() string {
	return fmt.Sprintf("stream error: stream ID %d; code %d", e.StreamID, e.Code)
}

// mayPass reports whether err, a request's that got no answer, is the
// network's or the server's going away, which the next request may not
// meet: an end of the connection (EOF, closed, reset, refused, aborted,
// a broken pipe, a host or network unreachable), a timeout, a network
// operation that failed (dial, read, write, a DNS lookup), and HTTP/2's
// GOAWAY, stream and connection errors. Each is known by an exported
// error value or type (errors.Is, errors.As) where Go has one; only
// where it has none (connectionLost, http2Errors, proxyBusy) by its text
// or type name, which a test checks against Go's source. A proxy's refusal of
// CONNECT is an operation that failed too: it may pass only if what it
// wraps does (the proxy unreachable); its answer to CONNECT may pass if
// it says the proxy is busy (proxyBusy: a 502, 503 or 504), not its 407.
func mayPass(err error) bool {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, os.ErrDeadlineExceeded):
		return true
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	if op, ok := errors.AsType[*net.OpError](err); ok {
		if op.Op == "proxyconnect" {
			return op.Err != nil && mayPass(op.Err)
		}
		return true
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	if _, ok := errors.AsType[h2StreamError](err); ok {
		return true
	}
	if proxyBusy(err) {
		return true
	}
	return inTree(err, func(e error) bool { return http2Errors[reflect.TypeOf(e).String()] || connectionLost[e.Error()] })
}

// inTree reports whether f holds for err or any error it wraps, every
// branch of a joined one too (Unwrap() []error: errors.Join, fmt.Errorf
// with two %w, as a caller's RoundTripper that retries may return), as
// errors.Is walks them.
func inTree(err error, f func(error) bool) bool {
	if err == nil {
		return false
	}
	if f(err) {
		return true
	}
	switch e := err.(type) { //nolint:errorlint // walking the tree itself
	case interface{ Unwrap() error }:
		return inTree(e.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, b := range e.Unwrap() {
			if inTree(b, f) {
				return true
			}
		}
	}
	return false
}

// proxyBusy reports whether err is a forward proxy's answer to CONNECT
// that says to come back, as a 408, 429 or 5xx (but 501 and 505) from the
// server does: its upstream (the Tributary server) restarting or unreachable, or
// the proxy overloaded. net/http returns an answer other than 200 as
// errors.New of its reason phrase alone, in a *url.Error (Go 1.26): no
// status, no type, no net.OpError; proxies word the phrase their own way
// (nginx's "Service Temporarily Unavailable", "Gateway Time-out"). So it
// is known by the whole text of the error the *url.Error holds being
// such a phrase (busyPhrases). Any other (a 407, a 403 of the proxy's policy) is the
// proxy's refusal, which the next CONNECT meets again.
func proxyBusy(err error) bool {
	u, ok := errors.AsType[*url.Error](err)
	if !ok || u.Err == nil {
		return false
	}
	return busyPhrases[strings.ToLower(u.Err.Error())]
}

// busyPhrases are the reason phrases, in lower case, of a proxy's answers
// to CONNECT that proxyBusy knows: those of the statuses a subscription
// waits out from the server (every 5xx but 501 and 505, and retryable's),
// the words of proxies that say them their own way (nginx's, Apache's
// "502 Proxy Error"), and a status line with no reason phrase at all,
// whose status net/http does not give ("" or "unknown status code"): a
// subscription that met one three times in a row ended (transportRefusals).
var busyPhrases = func() map[string]bool {
	m := map[string]bool{"service temporarily unavailable": true, "gateway time-out": true, "proxy error": true,
		"": true, "unknown status code": true}
	for code := 400; code < 600; code++ {
		if text := http.StatusText(code); text != "" && (retryable(code) || code >= 500 && code != 501 && code != 505) {
			m[strings.ToLower(text)] = true
		}
	}
	return m
}()

// proxyAuthRequired reports whether err is a forward proxy's 407 to
// CONNECT, which net/http returns as errors.New of its reason phrase in a
// *url.Error (proxyBusy), not as an answer: the proxy refuses the
// credentials of the proxy URL (none, or others), as every CONNECT after
// meets again, the same as a 407 answer, which ends a subscription.
func proxyAuthRequired(err error) bool {
	u, ok := errors.AsType[*url.Error](err)
	return ok && u.Err != nil && strings.EqualFold(u.Err.Error(), http.StatusText(http.StatusProxyAuthRequired))
}

// newRequest builds a request for path, which may hold a query of its own,
// under the base URL's path (url).
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u, err := c.url(path, q)
	if err != nil {
		return nil, err
	}
	return c.request(ctx, method, u, body)
}

// errNotMadeWithNew fails every call of a Client that New did not make.
var errNotMadeWithNew = errors.New("client: a Client must be made with New, not declared or taken as Client{}")

// url is the URL of path, which may hold a query of its own (q, if not
// empty, replaces it), under the base URL's path. Both paths are joined as
// they are escaped, not as they read: an escaped slash or semicolon
// (/tenants/acme%2Fprod) unescaped is another path.
func (c *Client) url(path string, q url.Values) (*url.URL, error) {
	if c.base == nil || c.http == nil {
		return nil, errNotMadeWithNew
	}
	// Read as a request's target, not as a URI reference: a path that
	// begins with // (a next link's <http://host//x/events>) is a path,
	// where url.Parse takes //x for a host name and drops it.
	ref, err := url.ParseRequestURI(path)
	if err != nil {
		return nil, fmt.Errorf("client: bad path %q: %s", shownPath(path), parseError(err))
	}
	if ref.Scheme != "" || ref.Host != "" {
		return nil, fmt.Errorf("client: bad path %q: not a path", shownPath(path))
	}
	u := *c.base
	basePath, baseRaw := c.base.Path, c.base.EscapedPath()
	if strings.HasSuffix(baseRaw, "/") {
		basePath, baseRaw = strings.TrimSuffix(basePath, "/"), strings.TrimSuffix(baseRaw, "/")
	}
	u.Path, u.RawPath = basePath+ref.Path, baseRaw+ref.EscapedPath()
	u.RawQuery = ref.RawQuery
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return &u, nil
}

// request builds a request for u, which is on the server's origin, with
// the client's credentials.
func (c *Client) request(ctx context.Context, method string, u *url.URL, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else if c.user != nil {
		password, _ := c.user.Password()
		req.SetBasicAuth(c.user.Username(), password)
	}
	return req, nil
}

// do sends req and turns an error answer into a *Problem. The answer's
// body, once closed, ends the request, and closeBody can end it sooner.
// A timeout above 0 bounds the request, its body read to the end included:
// cut there, it fails, and so does a read of its body, with an error that
// is ErrRequestTimeout.
func (c *Client) do(req *http.Request, timeout time.Duration) (*http.Response, error) {
	// One context, ended with the request: a WithCancel replaced by the
	// timeout's was never ended, and stayed a child of the call's context
	// (a goroutine watching it, under a context of another kind) for as
	// long as that lived, one for every request.
	var ctx context.Context
	var cancel context.CancelFunc
	if timeout > 0 {
		ctx, cancel = context.WithTimeoutCause(req.Context(), timeout, &requestTimeout{timeout})
	} else {
		ctx, cancel = context.WithCancel(req.Context())
	}
	res, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		cancel()
		if u, ok := errors.AsType[*url.Error](err); ok {
			u.URL = shownPath(u.URL) // a next link's, which the server wrote
			// net/http's own may quote the answer: a malformed header
			// line, whole. (A short one, a timeout's, stays as it is,
			// which url.Error's Timeout asserts on.)
			u.Err = shortened(u.Err)
		}
		return nil, timedOut(ctx, err)
	}
	res.Body = &answerBody{ReadCloser: res.Body, ctx: ctx, cancel: cancel}
	if res.StatusCode >= 400 {
		defer closeBody(res.Body)
		// A problem's JSON is read to the end of its value; a body of
		// another kind whose end does not come (a proxy holding it) gets
		// problemTime, and the problem then says what came of it.
		t := time.AfterFunc(problemTime, cancel)
		defer t.Stop()
		return nil, readProblem(res)
	}
	return res, nil
}

// shownPath is a path or URL as an error quotes it: at most its first 200
// bytes, on one line (oneLine). A next link is the server's to write, of
// any length (up to net/http's bound on an answer's header, megabytes),
// and would go whole into every error of the read, and the caller's logs.
func shownPath(s string) string { return oneLine(s, 200) }

// parseError is what url.Parse said of a URL, without the URL, which its
// error quotes whole (and an invalid port's, the port whole), 200 bytes at
// most: a next link, which a server or proxy wrote, may run to any length,
// and went whole into a read's error, into the caller's logs.
func parseError(err error) string {
	if u, ok := errors.AsType[*url.Error](err); ok {
		err = u.Err
	}
	return oneLine(err.Error(), 200)
}

// shortened returns err, or, where its text is longer than 300 bytes or
// more than a line, err with its text cut to one line of 300 bytes: a
// decode error quotes what the server sent (encoding/json's, a number
// that does not fit its field, whole), which may run to any length.
func shortened(err error) error {
	if s := err.Error(); len(s) > 300 || strings.ContainsAny(s, "\r\n") {
		return &shortError{text: oneLine(s, 300), err: err}
	}
	return err
}

// shortError is an error shown short (shortened), which wraps it still.
type shortError struct {
	text string
	err  error
}

func (e *shortError) Error() string { return e.text }
func (e *shortError) Unwrap() error { return e.err }

// errAnswerTooLong is an answer longer than the client reads of it.
var errAnswerTooLong = errors.New("the answer is longer than the client reads")

// boundedBody reads r up to most bytes, then fails with errAnswerTooLong:
// what the client holds of an answer is bounded whatever the server sends.
func boundedBody(r io.Reader, most int64) io.Reader {
	return &bounded{r: r, left: most, most: most}
}

type bounded struct {
	r          io.Reader
	left, most int64
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("%w: more than %d bytes", errAnswerTooLong, b.most)
	}
	n, err := b.r.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

// requestTimeout is the cause of a request's end at the client's request
// timeout: ErrRequestTimeout, and context.DeadlineExceeded, as a
// caller's deadline would be.
type requestTimeout struct{ d time.Duration }

func (e *requestTimeout) Error() string {
	return fmt.Sprintf("%v of %v (WithRequestTimeout)", ErrRequestTimeout, e.d)
}

func (e *requestTimeout) Is(target error) bool {
	return target == ErrRequestTimeout || target == context.DeadlineExceeded //nolint:errorlint // sentinels, compared as errors.Is does
}

// timedOut returns err, which ended a request of ctx, as the request
// timeout's error if that is what ended it: net/http gives the cause of
// a context's end, mostly, but a read may give only
// context.DeadlineExceeded, which reads as the caller's own deadline.
func timedOut(ctx context.Context, err error) error {
	var cause *requestTimeout
	if err == nil || errors.As(err, &cause) || !errors.As(context.Cause(ctx), &cause) {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}

// answerBody is an answer's body that ends its request when closed.
type answerBody struct {
	io.ReadCloser
	ctx    context.Context // the request's
	cancel context.CancelFunc
}

func (b *answerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF { //nolint:errorlint // io.EOF is returned as it is, never wrapped
		err = timedOut(b.ctx, err)
	}
	return n, err
}

func (b *answerBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// problemTime bounds how long do reads an error answer that is no JSON.
const problemTime = 5 * time.Second

// drainTime bounds how long closeBody waits for the end of an answer.
const drainTime = 500 * time.Millisecond

// closeBody reads what is left of an answer, up to a bound in bytes and in
// time, and closes it, so that its connection carries the next request: a
// JSON decoder stops at the end of the value, short of the end of a chunked
// body, and a body closed before its end costs its connection. An end that
// does not come within drainTime (a server or proxy that holds it) costs
// the connection, not the caller's time: the call has what it needs.
func closeBody(body io.ReadCloser) {
	if b, ok := body.(*answerBody); ok {
		t := time.AfterFunc(drainTime, b.cancel)
		defer t.Stop()
	}
	io.Copy(io.Discard, io.LimitReader(body, 64<<10)) //nolint:errcheck // only to reach the end
	body.Close()
}

// nextLink returns the target of the Link field's rel="next" of the page
// from, and whether there is one: <> is a link to the page itself, not the
// read's end. A link anchored to another resource is that resource's, and
// skipped; one anchored to from itself (anchor="http://host/events",
// "/events", "events") is the page's (RFC 8288 §3.2).
func nextLink(h http.Header, from *url.URL) (string, bool) {
	return linkheader.NextFrom(h.Values("Link"), func(anchor string) bool {
		ref, err := url.Parse(anchor)
		if err != nil {
			return false
		}
		a := from.ResolveReference(ref)
		return a.Fragment == "" && sameOrigin(a, from) && sameEscapedPath(a.EscapedPath(), from.EscapedPath()) && a.RawQuery == from.RawQuery
	})
}

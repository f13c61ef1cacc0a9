package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/sseline"
)

// SubscribeOptions shape Subscribe.
type SubscribeOptions struct {
	// StreamID subscribes to one stream; zero: to the global log.
	StreamID uuid.UUID
	// From is the first version a stream subscription delivers (default
	// 1); a log subscription given it ends at once with an error.
	From int64
	// After is the position a log subscription starts after (default 0);
	// a stream subscription given it ends at once with an error.
	After int64
	// StreamTypes and EventTypes filter a log subscription; with StreamID,
	// which the server takes no filter for, either ends the iteration at
	// once with an error.
	StreamTypes, EventTypes []string
	// MinBackoff and MaxBackoff bound the wait before reconnecting; it
	// doubles after each attempt that delivered no event and lasted less
	// than MaxBackoff (defaults 500 ms, or MaxBackoff if it is set
	// shorter, and 30 s; a MaxBackoff below a MinBackoff set is 30 s, or
	// MinBackoff if longer). The server's retry:
	// field or Retry-After, when longer, is the least wait, up to 5
	// minutes (or MaxBackoff, if longer): a longer one is cut to that.
	MinBackoff, MaxBackoff time.Duration
	// IdleTimeout drops and reopens a connection that brings no byte, not
	// even a keep-alive, for this long (default 45 s: three of the server's
	// default heartbeats; set it to three times TRIBUTARY_HEARTBEAT for a
	// server whose heartbeat is longer). The stream does not say the
	// server's heartbeat: a connection the server answered that is cut so
	// before any keep-alive came doubles it for the connections after, up
	// to eight times IdleTimeout, so that a longer heartbeat costs a few
	// reconnections, not one every IdleTimeout; OnDisconnect is told. A
	// connection whose first keep-alive comes within IdleTimeout of its
	// answer sets it back to IdleTimeout. Time the consumer spends on a
	// message does not count.
	IdleTimeout time.Duration
	// OnDisconnect, if set, is told why a connection ended and how long
	// Subscribe waits before the next one.
	OnDisconnect func(err error, retryIn time.Duration)
	// MaxFrameBytes bounds one frame of the event stream, and so what the
	// client holds of it: default 16 MiB, sixteen times the server's
	// default TRIBUTARY_MAX_EVENT_BYTES; raise it for a server whose events
	// may be larger. A longer frame ends the iteration with an error,
	// however its bytes arrive; so that it holds to the byte, a frame of
	// exactly MaxFrameBytes whose last line end is a CR that came last in
	// a read (Tributary ends lines in LF) is delivered once the next byte
	// says whether an LF, one byte too many, follows.
	MaxFrameBytes int
}

// Message is what a subscription delivers: an event, or, once per
// connection, the news that it has caught up.
type Message struct {
	// Event is the event, unless CaughtUp.
	Event Event
	// CaughtUp reports that everything up to At (a version for a stream, a
	// position for the log) has been delivered: what follows is live.
	CaughtUp bool
	At       int64
}

// Subscribe follows a stream, or the global log, over server-sent events:
// first what is already stored after the starting point, then each new
// event as it commits. When a connection drops or the server restarts it
// reconnects with backoff and resumes after the last event it delivered
// (Last-Event-ID: that event's version or position, or the id of an
// id-only frame since, by which the server moves a filtered subscription
// of the log past events that do not match; the query's from or after
// says it too, for a proxy that drops the header), so nothing is skipped.
// A resumption at the last event delivered starts one place before it,
// and that event must come first, the same (its id): a log restored from
// an older backup, whose new events passed the resume point while the
// client was away, sends another there, or none, and ends the iteration
// with ErrLogReset. The event
// delivered at a version or position, sent again there by a server that
// replays, is a repeat and is dropped, so nothing is delivered twice; any
// other event at or below the last one delivered, at a place among the
// last 1024 delivered (a place where another event was delivered, or
// none), or, until 1024 were, at any place after the starting point,
// ends the iteration with ErrLogReset: the database was reset or
// restored (or the server sends positions going backwards), and its new
// events are not dropped without a word. An event before those, which
// the client no longer knows or never asked for, proves nothing and is
// dropped: a replay from further back, of the same events, is no reset,
// and a new log's events reach the places the client knows before any is
// delivered. A caught-up frame behind the last event delivered (a new log
// that is shorter) is ErrLogReset too, and so is, on a stream
// subscription, an event whose position is not past the last one
// delivered (a stream's later versions commit later), and a resumption refused with
// ErrStartingPointAhead (the server's head is behind the resume point),
// where the first connection's is the caller's own starting point. A
// resumption also sends that event's position as Tributary-Min-Position,
// so that another instance whose read replica is behind waits for it
// rather than refuse it. A 503 waits for its Retry-After, up to 5
// minutes (or MaxBackoff, if longer). Keep-alives only keep the
// connection alive.
//
// An answer that retrying cannot fix, the next request being sent the
// same, ends the iteration with its *Problem: Tributary's own refusal (a
// 4xx answer in application/problem+json of one of its problem types:
// ErrStartingPointAhead when the start is past what the server has,
// ErrUnauthorized, ErrForbidden, ErrBadRequest, ErrNotFound for a base URL
// whose path is not Tributary's, and the like), and, whoever sends it, one
// that refuses the request itself: a 401 (ErrUnauthorized: the token is
// wrong or revoked), 407, 405, 406, 413, 414, 415, 431 (its headers,
// the token among them, too large), 501 or 505, and a 400 whose page says
// it refuses the headers' size, or the scheme or client certificate
// (nginx's "Request Header Or Cookie Too Large" and the like). A 408,
// 421, 425 or 429, which say to come back later, are waited out like a
// 503 or any other 5xx. A 204 No Content, by which a server tells a
// subscriber to stop reconnecting, as an EventSource stops, ends it with
// ErrSubscriptionStopped. A request that fails short of an answer in a way
// the next one would meet again ends the iteration too: redirects that go
// round (ten in a row) or that the caller's CheckRedirect refuses, a 301
// or 308 that it does not follow (http.ErrUseLastResponse), a
// server certificate the client does not trust (x509 or tls verification
// errors), a TLS alert by which the server refuses the client's
// configuration (a client certificate missing or refused, no TLS version
// or cipher suite in common), plain HTTP answered to an https URL, or a
// forward proxy's 407 to CONNECT (the proxy URL's credentials missing or
// refused). A request that fails short of an answer with an error not
// known to pass (the caller's RoundTripper refusing, a redirect to a
// scheme the transport does not speak, a Location that is no URL) ends it
// with that error the third time in a row (transportRefusals); a
// connection refused, reset or closed, a timeout, a DNS failure,
// HTTP/2's GOAWAY or stream reset, and an answer net/http cannot read (a
// server's or forward proxy's garbage while it restarts) are waited out. Any other answer that is not
// Tributary's (a proxy's or load balancer's page during a maintenance
// window, a 400, 403 or 404 in HTML or plain text, a 200 that is no event
// stream) is waited out with backoff too, and told to OnDisconnect, so that a
// subscription outlives the window; but Tributary's own page of events
// in JSON, its answer to a request whose Accept something between
// dropped, ends the iteration the third time in a row, with an error
// saying the answer was not an event stream. ErrLogReset
// ends the iteration too, and so does what is not Tributary's protocol
// and would be met again on every reconnection: an event the client
// cannot decode, one it did not ask for (another stream's, or one the
// filter leaves out, as a server that ignores the filter sends), on a
// stream subscription one whose version does not follow the last one
// delivered (or From-1), on a log subscription one that is not its
// stream's next, as ReadAll checks it (a version skipped, which no
// resumption brings back, or again), a caught-up frame whose data is not a version or
// position (digits), or on a stream subscription a version past the last
// one delivered (the versions between would be missing), or a frame
// longer than MaxFrameBytes, after every event before it (a new Subscribe
// from the last one's position meets it again). Cancelling ctx ends it
// with ctx's error, and nothing is delivered after, even what was already
// read.
func (c *Client) Subscribe(ctx context.Context, opts SubscribeOptions) iter.Seq2[Message, error] {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
		if opts.MaxBackoff > 0 {
			// A MaxBackoff set alone, below the default, bounds it too:
			// it is no MaxBackoff set below MinBackoff, made 30 s.
			opts.MinBackoff = min(opts.MinBackoff, opts.MaxBackoff)
		}
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 45 * time.Second
	}
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = 16 << 20
	}
	return func(yield func(Message, error) bool) {
		if c.base == nil || c.http == nil {
			yield(Message{}, fmt.Errorf("subscribe: %w", errNotMadeWithNew)) // no retry mends it
			return
		}
		if opts.StreamID != uuid.Nil && (len(opts.StreamTypes) > 0 || len(opts.EventTypes) > 0) {
			// Checked against the stream's events, a filter ended the
			// iteration at the first event it left out, as not asked for.
			yield(Message{}, errors.New("subscribe: StreamTypes and EventTypes filter a log subscription, not a stream's (StreamID): leave them empty"))
			return
		}
		// Each kind ignored the other's starting point: a stream resumed
		// with After delivered its events from version 1 again, as new.
		if opts.StreamID != uuid.Nil && opts.After != 0 {
			yield(Message{}, fmt.Errorf("subscribe: After (%d) is where a log subscription starts; a stream's (StreamID) starts at From, the first version it delivers", opts.After))
			return
		}
		if opts.StreamID == uuid.Nil && opts.From != 0 {
			yield(Message{}, fmt.Errorf("subscribe: From (%d) is where a stream subscription (StreamID) starts; the log's starts after After, a position", opts.From))
			return
		}
		s := &subscription{c: c, opts: opts, yield: yield, last: max(opts.After, 0), idle: opts.IdleTimeout,
			asked: newAsked(opts.StreamID, opts.StreamTypes, opts.EventTypes)}
		if opts.StreamID != uuid.Nil {
			s.last = max(opts.From, 1) - 1 // From-1 overflows at math.MinInt64
		} else {
			s.streams = &streamVersions{last: map[uuid.UUID]int64{}, fromStart: s.last == 0, gaps: len(opts.EventTypes) > 0}
		}
		s.start = s.last
		backoff := opts.MinBackoff
		for {
			start, from := time.Now(), s.last
			s.unanswered = false
			err := s.connect(ctx)
			if s.stopped {
				return
			}
			if ctx.Err() != nil {
				yield(Message{}, ctx.Err())
				return
			}
			var p *Problem
			var bad *undecodable
			if errors.As(err, &p) && refusal(p) || errors.As(err, &bad) || errors.Is(err, ErrLogReset) || errors.Is(err, ErrSubscriptionStopped) {
				if p != nil && s.resume && errors.Is(p, ErrStartingPointAhead) {
					// Not the caller's starting point but the resume point: the
					// server's log (its primary's, behind a replica) is behind
					// what was delivered.
					err = fmt.Errorf("%w: the server is at %d, behind the %d this subscription had got to: %w", ErrLogReset, p.Current, s.last, err)
				}
				yield(Message{}, fmt.Errorf("subscribe: %w", err))
				return
			}
			if why := unmendable(err); why != "" {
				yield(Message{}, fmt.Errorf("subscribe: %s, which no retry mends: %w", why, err))
				return
			}
			// The caller's own transport error (its RoundTripper refusing,
			// a redirect to a scheme it does not speak) was waited out for
			// ever, every attempt meeting it again.
			if !s.unanswered || mayPass(err) {
				s.refused = 0
			} else if s.refused++; s.refused >= transportRefusals {
				yield(Message{}, fmt.Errorf("subscribe: %d attempts in a row failed short of an answer with an error no retry is known to mend: %w", s.refused, err))
				return
			}
			// A connection that delivered an event, or lasted, resets the
			// backoff; one that the server dropped at once, whatever frames
			// it brought (its first is always retry:), does not.
			if s.last != from || time.Since(start) >= opts.MaxBackoff {
				backoff = opts.MinBackoff
			}
			// Jitter, so that many clients do not come back at once; what the
			// server asks for (retry:, Retry-After) is a floor the jitter
			// never goes under, only over.
			wait := backoff/2 + rand.N(backoff/2+1)
			floor := s.serverRetry
			if p != nil {
				floor = max(floor, p.RetryAfter)
			}
			if wait < floor {
				// A server's wait past the bound (a date in the year 9999,
				// a proxy's mistake) would park the subscription for good:
				// it is cut so that with its jitter, up to a fourth of it,
				// it stays within the bound, which also keeps the sum far
				// from overflowing.
				longest := max(maxServerWait, opts.MaxBackoff)
				floor = min(floor, longest-longest/5)
				wait = floor + rand.N(floor/4+1)
			}
			if opts.OnDisconnect != nil {
				opts.OnDisconnect(err, wait)
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				yield(Message{}, ctx.Err())
				return
			case <-t.C:
			}
			backoff = doubled(backoff, opts.MaxBackoff)
		}
	}
}

// doubled is the backoff after d: twice d, up to most, which it stays at.
// Compared before it is doubled: past half the longest Duration, twice d
// overflows to a negative wait.
func doubled(d, most time.Duration) time.Duration {
	if d > most/2 {
		return most
	}
	return d * 2
}

// ErrLogReset ends a subscription that met, at or below the last version
// or position it delivered, an event other than the one it delivered
// there, or a resumption that did not get again the event it delivered
// last: the server's log is not the one the subscription was following
// (the database was reset or restored from a backup, or the subscription
// reached another deployment), and what the consumer built from the
// events delivered so far does not match it. Nothing of the new log is
// delivered: start again from the beginning, or stop and look.
var ErrLogReset = errors.New("the server's log went back past the events delivered")

// refusal reports whether p ends a subscription: an answer that the next
// request, sent with the same token and headers to the same URL, would
// meet again, so that no retry can mend it. That is Tributary's own 4xx
// problem, and, whoever sends it (a proxy that checks tokens, one whose
// error page replaced Tributary's problem, net/http before Tributary's
// code runs), an answer about the request itself: refusedRequest, or a
// 400 page that says so (refused400). Any other answer, a 5xx but 501
// and 505, a 408, 421, 425 or 429, or a proxy's or load balancer's page
// in front of the server during a maintenance window (a 400, 403 or 404
// in HTML or plain text), is waited out.
func refusal(p *Problem) bool {
	switch {
	case refusedRequest(p.Status) || p.refusesRequest:
		return true
	case p.Status < 400 || p.Status >= 500 || retryable(p.Status):
		return false
	}
	return p.tributary
}

// refusedRequest reports whether status refuses the request as it was
// sent, which a retry sends the same: its credentials (401, 407), its
// method or what it accepts (405, 406, 501), its size (413, 414, 431),
// its media type (415) or its HTTP version (505).
func refusedRequest(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusProxyAuthRequired,
		http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusNotImplemented,
		http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge,
		http.StatusUnsupportedMediaType, http.StatusHTTPVersionNotSupported:
		return true
	}
	return false
}

// unmendable returns why err would end the next request the same, or ""
// if it may not: a redirect refused (a loop, or the caller's
// CheckRedirect), a 301 or 308 not followed, pageAnswers pages of events
// in a row, a server
// certificate the client does not trust (an unknown authority, another
// host's name, expired or otherwise invalid), system roots that cannot be
// loaded to verify it with, a handshake the server refuses
// (refusedHandshake), plain HTTP answered to an https URL, or a forward
// proxy's 407 to CONNECT (proxyAuthRequired): no retry
// mends them without someone changing the server, what is in front of
// it, or the client's configuration.
func unmendable(err error) string {
	var redirect *redirectRefused
	var verify *tls.CertificateVerificationError
	var authority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var roots x509.SystemRootsError
	switch {
	case errors.As(err, &redirect):
		return "the server's redirects were refused"
	case errors.Is(err, errMovedPermanently):
		return "the server moved the subscription for good, and the client's CheckRedirect does not follow redirects"
	case errors.Is(err, errPageNotStream):
		return "something between the client and the server drops Accept: text/event-stream"
	case errors.As(err, &roots):
		// Before verify, which wraps it: no fault of the server's.
		return "the system's root certificates could not be loaded, and the client was given none (tls.Config.RootCAs)"
	case errors.As(err, &verify), errors.As(err, &authority), errors.As(err, &hostname), errors.As(err, &invalid):
		return "the server's TLS certificate is not trusted"
	case refusedHandshake(err):
		return "the server refused the TLS handshake"
	case errors.Is(err, http.ErrSchemeMismatch):
		return "the server answers plain HTTP to https"
	case proxyAuthRequired(err):
		return "the forward proxy answered CONNECT 407 Proxy Authentication Required (the proxy URL's credentials are missing or refused)"
	}
	return ""
}

// refusedHandshake reports whether err is a TLS alert that refuses the
// client's configuration, which the next handshake meets again: its
// client certificate (missing, refused, expired, revoked, of an unknown
// authority), its TLS versions, cipher suites or ALPN protocols, or the
// server name it sends. Other alerts (an internal error, a record that
// failed its check) may be the connection's, not the configuration's,
// and are waited out. The alert is read by its number (alertNumber).
func refusedHandshake(err error) bool {
	a, ok := alertNumber(err)
	if !ok {
		return false
	}
	switch a {
	case 40, // handshake_failure: no cipher suite, curve or signature in common; a certificate wanted (TLS 1.2)
		42, 43, 44, 45, 46, // bad, unsupported, revoked, expired, unknown certificate
		48, 49, // unknown_ca, access_denied
		70, 71, // protocol_version, insufficient_security
		112, 116, 120: // unrecognized_name, certificate_required, no_application_protocol
		return true
	}
	return false
}

// alertNumber returns the number of the TLS alert err is, or false if it
// is none. crypto/tls returns an alert over TCP, the server's ("remote
// error") or its own ("local error"), as a *net.OpError around its
// unexported alert type, which only QUIC's errors wrap in a
// tls.AlertError, up to Go 1.26 at least. That type's text is that of
// the tls.AlertError of its number, written by the same method
// (AlertError.Error is alert.String), so it is read back through the
// exported type: one of 256 texts.
func alertNumber(err error) (uint8, bool) {
	if a, ok := errors.AsType[tls.AlertError](err); ok {
		return uint8(a), true
	}
	op, ok := errors.AsType[*net.OpError](err)
	if !ok || op.Err == nil || op.Op != "remote error" && op.Op != "local error" {
		return 0, false
	}
	text := op.Err.Error()
	if !strings.HasPrefix(text, "tls: ") {
		return 0, false
	}
	for n := range 256 {
		if tls.AlertError(n).Error() == text {
			return uint8(n), true
		}
	}
	return 0, false
}

// retryable reports whether an answer below 500 says to come back later,
// whoever sends it: 408 Request Timeout (RFC 9110 §15.5.9), 421
// Misdirected Request (§15.5.20: on another connection, which the next
// one is), 425 Too Early (RFC 8470) and 429 Too Many Requests (RFC 6585),
// as a proxy or rate limit in front of the server may send.
func retryable(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusMisdirectedRequest, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return false
}

// subscription is one Subscribe call's state across its connections.
type subscription struct {
	c       *Client
	opts    SubscribeOptions
	yield   func(Message, error) bool
	stopped bool // the consumer stopped the iteration
	// idle is how long a connection may bring no byte: IdleTimeout, grown
	// by connections cut before any keep-alive came (connect).
	idle time.Duration
	// last is the last event's version (position) delivered, or an id-only
	// frame's id past it: what Last-Event-ID sends, once resume is set, and
	// what an event must be past to be no repeat.
	last   int64
	resume bool
	// start is the starting point, which last was before anything moved
	// it: no event at or before it was asked for.
	start int64
	// position is the log position of the last event delivered (or passed
	// by an id-only frame): where the database must have got to for the
	// resumption.
	position    int64
	serverRetry time.Duration
	// recent holds the last recentEvents events delivered, a ring whose
	// oldest is at oldest once full: an event at or below last is a
	// repeat only if it is one of them.
	recent []delivered
	oldest int
	// latest is the last event delivered, and checking says that a
	// resumption asked for it again and it has not come yet: a log
	// restored from an older backup, whose new events passed the resume
	// point while the client was away, sends only events past it, each
	// new, and only the event at the resume point shows the log is
	// another.
	latest   delivered
	checking bool
	// asked is what the subscription may be sent.
	asked asked
	// pages counts the answers in a row that were Tributary's page of
	// events, not an event stream.
	pages int
	// unanswered says the last attempt got no answer, its transport's
	// error; refused counts the attempts in a row whose error was not
	// known to pass (transportRefusals).
	unanswered bool
	refused    int
	// streams checks each stream's versions along a log subscription, nil
	// on a stream's.
	streams *streamVersions
}

// recentEvents is how many of the last events delivered a subscription
// knows again: an event replayed from further back is dropped unchecked.
const recentEvents = 1024

// delivered is an event a subscription delivered, by its version (for a
// stream) or position.
type delivered struct {
	n  int64
	id uuid.UUID
}

func (s *subscription) remember(n int64, id uuid.UUID) {
	if len(s.recent) < recentEvents {
		s.recent = append(s.recent, delivered{n, id})
		return
	}
	s.recent[s.oldest] = delivered{n, id}
	s.oldest = (s.oldest + 1) % recentEvents
}

// seen reports what the subscription knows of an event id at n, at or
// below the last place it delivered: whether n is among the places it
// still knows (every one after its starting point, until it has delivered
// more events than it remembers; then from the oldest it remembers on;
// before that it knows nothing), and if so whether id is the event it
// delivered there. A known place where it delivered nothing (a place the
// log skipped, or the filter, or one before the first event it delivered)
// is no event's.
func (s *subscription) seen(n int64, id uuid.UUID) (known, same bool) {
	// Places only grow: the starting point bounds what is known, and once
	// the ring is full, the oldest remembered, which is the least.
	if n <= s.start || len(s.recent) == recentEvents && n < s.recent[s.oldest].n {
		return false, false
	}
	for _, d := range s.recent {
		if d.n == n {
			return true, d.id == id
		}
	}
	return true, false
}

// unit names what the subscription counts in.
func (s *subscription) unit() string {
	if s.opts.StreamID != uuid.Nil {
		return "version"
	}
	return "position"
}

// connect runs one connection until it ends, and reports why it ended.
func (s *subscription) connect(ctx context.Context) (err error) {
	outer := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// A connection that brings nothing for IdleTimeout is dead, even if
	// TCP has not noticed: cut it and reconnect. What OnDisconnect is told
	// says so, not only "context canceled", which reads as the caller's.
	silent := &silence{}
	silent.d.Store(int64(s.idle))
	idle := time.AfterFunc(s.idle, func() { cancel(silent) })
	defer idle.Stop()
	// answered: the server answered with an event stream, at answeredAt;
	// heard: a keep-alive (or a frame the server sends at heartbeat time)
	// came.
	answered, heard := false, false
	var answeredAt time.Time
	defer func() {
		if err == nil || outer.Err() != nil || context.Cause(ctx) != silent { //nolint:errorlint // our own value
			return
		}
		// net/http gives the cause, mostly; a read that gives only
		// context.Canceled gets it too.
		if !errors.Is(err, silent) {
			err = fmt.Errorf("%w: %w", silent, err)
		}
		if answered && !heard && s.idle < maxIdleGrowth*s.opts.IdleTimeout {
			// The stream does not say the server's heartbeat: one longer
			// than the idle timeout (TRIBUTARY_HEARTBEAT=60s, say) had every
			// caught-up connection cut before its first keep-alive, for
			// ever. A server that answered and sent no keep-alive at all
			// may be such a one: the next connection waits twice as long.
			// A connection that has gone quiet after keep-alives is dead.
			s.idle = min(2*s.idle, maxIdleGrowth*s.opts.IdleTimeout)
			err = fmt.Errorf("%w; no keep-alive had come before: the server's heartbeat may be longer, so the next connection waits %v", err, s.idle)
		}
	}()

	// The query says where to start too, the resume point once there is
	// one: a proxy that drops Last-Event-ID must not send the server back
	// to the subscription's first starting point.
	// A resumption at the last event delivered starts before it, so that
	// the server sends it again and the client sees it is the same
	// (checking). One moved past it by frames without an event (a filter's)
	// starts at the resume point, unchecked: the server would read again
	// every event between.
	after := s.last
	s.checking = s.resume && s.latest.n == s.last
	if s.checking {
		after = s.last - 1
	}
	path := "/events"
	q := filterQuery(s.opts.StreamTypes, s.opts.EventTypes)
	if s.opts.StreamID != uuid.Nil {
		path = "/streams/" + s.opts.StreamID.String() + "/events"
		q = url.Values{}
		if after > 0 || s.resume {
			q.Set("from", strconv.FormatInt(after+1, 10))
		}
	} else if after > 0 || s.resume {
		// after=0 too, beside Last-Event-ID: 0: the server refuses the
		// header on a page (a proxy that drops Accept) unless the query
		// names the same start.
		q.Set("after", strconv.FormatInt(after, 10))
	}
	req, err := s.c.newRequest(ctx, http.MethodGet, path, q, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if s.resume {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(after, 10)) // the server prefers it to from/after
	}
	if s.position > 0 {
		// Another instance, reading a replica that is behind this one's, has
		// not reached the resume point yet: without this it refuses it
		// (starting-point-ahead), with it it waits for it, or answers 503.
		req.Header.Set("Tributary-Min-Position", strconv.FormatInt(s.position, 10))
	}
	// No request timeout: the connection lives as long as the subscription
	// follows it; the idle timer, already running, bounds its headers' wait
	// and every silence after.
	res, err := s.c.do(req, 0)
	if err != nil {
		// No answer, and no one's but the transport's (a *Problem is an
		// answer; the idle timer's cut, a silent server's, may pass).
		// An answer net/http could not read is the server's or a proxy's
		// (one restarting, sending garbage) and is waited out like any
		// other answer that is not Tributary's.
		s.unanswered = !errors.As(err, new(*Problem)) && context.Cause(ctx) != silent && !unreadableAnswer(err) //nolint:errorlint // our own value
		return err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusMovedPermanently || res.StatusCode == http.StatusPermanentRedirect {
		// Only a caller's CheckRedirect that answers ErrUseLastResponse
		// lets one through: every attempt would meet it again.
		return fmt.Errorf("%w: GET %s answered %s to %s", errMovedPermanently, path, oneLine(res.Status, 60), shownPath(res.Header.Get("Location")))
	}
	if res.StatusCode == http.StatusNoContent {
		// The server says to stop: come back with backoff, as at a
		// proxy's page, it was asked again for ever.
		return fmt.Errorf("%w: GET %s answered %s; it is not asked again", ErrSubscriptionStopped, path, oneLine(res.Status, 60))
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/event-stream" {
		if mt == "application/json" && eventsPage(res.Body) {
			// Tributary's own answer to a request that came without
			// Accept: text/event-stream: something between drops it, and
			// will again, unless it is one instance or proxy of several.
			if s.pages++; s.pages >= pageAnswers {
				return fmt.Errorf("%w: GET %s answered %s with a page of events, %d times in a row", errPageNotStream, path, oneLine(res.Status, 60), s.pages)
			}
			return fmt.Errorf("GET %s answered %s with a page of events, not text/event-stream: something between dropped Accept", path, oneLine(res.Status, 60))
		}
		// Tributary answers a subscription with an event stream or a
		// problem: this is something in front of it (a maintenance page).
		return fmt.Errorf("GET %s answered %s %.80q, not text/event-stream: not Tributary's answer", path, oneLine(res.Status, 60), res.Header.Get("Content-Type"))
	}
	s.pages = 0
	answered, answeredAt = true, time.Now()
	activity := &activityReader{r: res.Body, idle: idle, d: s.idle}
	frames := newFrameReader(activity)
	ended := "" // the detail of the problem the server ended it with (event: problem)
	for {
		f, err := readFrame(frames, s.opts.MaxFrameBytes)
		if err != nil {
			if errors.Is(err, errFrameTooLong) {
				// Reconnecting would meet the same frame again.
				return &undecodable{fmt.Errorf("the frame after id %d: %w", s.last, err)}
			}
			if err == io.EOF {
				err = errors.New("the server ended the subscription")
				if ended != "" {
					err = fmt.Errorf("the server ended the subscription: %s", ended)
				}
			}
			return err
		}
		if f.event == "problem" && f.hasData {
			// Tributary ends a subscription that a 503 of its database ends
			// once open with that 503's problem+json (its status went
			// before): what it says goes to OnDisconnect.
			var p struct {
				Title  string `json:"title"`
				Detail string `json:"detail"`
			}
			if json.Unmarshal([]byte(f.data), &p) == nil {
				ended = oneLine(cmp.Or(p.Detail, p.Title), 500)
			}
		}
		if f.retry > 0 {
			s.serverRetry = f.retry
		}
		var m Message
		switch {
		case (f.event == "" || f.event == "message") && f.hasData:
			// "message" is what a frame without an event field is named
			// (WHATWG HTML §9.2.6): a server or proxy may write it out.
			// Its id counts as received only once it is decoded: a
			// reconnect would resume after it, and the consumer never see it.
			if err := json.Unmarshal([]byte(f.data), &m.Event); err != nil {
				return &undecodable{fmt.Errorf("event %s is not the JSON of an event: %w", oneLine(f.id, 40), shortened(err))}
			}
			// The resume point is the event's own version or position, which
			// its id is by contract: a frame that came without its id (or
			// with another) must not leave it behind, or a reconnection
			// would deliver again every event since.
			n := m.Event.Position
			if s.opts.StreamID != uuid.Nil {
				n = m.Event.Version
			}
			if n <= 0 {
				return &undecodable{fmt.Errorf("event %s has no version or position", oneLine(f.id, 40))}
			}
			if why := s.asked.not(&m.Event); why != "" {
				// A server that ignores the filter (or a proxy that strips
				// the query) sends it again on every reconnection.
				return &undecodable{fmt.Errorf("event %d (%s) is %s: not an answer to this subscription", n, m.Event.ID, why)}
			}
			if s.checking && n >= s.latest.n {
				if n == s.latest.n && m.Event.ID == s.latest.id {
					s.checking = false
					continue // the event delivered last, asked for again
				}
				return fmt.Errorf("%w: the resumption asked again for event %s, delivered at %s %d, and the server sent event %s at %s %d instead",
					ErrLogReset, s.latest.id, s.unit(), s.latest.n, m.Event.ID, s.unit(), n)
			}
			if n <= s.last {
				// Versions and positions only grow along a subscription:
				// the event delivered there, sent again by a server that
				// replays, is a repeat, and so, for all the client can
				// tell, is one before what it still knows; any other is
				// another log's.
				if known, same := s.seen(n, m.Event.ID); !known || same {
					continue
				}
				return fmt.Errorf("%w: event %s at %s %d is not one this subscription delivered, and it had got to %d",
					ErrLogReset, m.Event.ID, s.unit(), n, s.last)
			}
			if s.opts.StreamID != uuid.Nil && n != s.last+1 {
				// A stream's versions come without gaps: the events between
				// would be missing from what the consumer builds.
				return &undecodable{fmt.Errorf("event %d (%s) came after version %d: version %s is missing", n, m.Event.ID, s.last, span(s.last+1, n-1))}
			}
			if s.opts.StreamID != uuid.Nil && m.Event.Position <= s.position {
				// A stream's later versions commit later: a position that
				// does not grow with them is another log's (one restored
				// under the subscription, resumed on), not the next event
				// of the one its events so far came from.
				if m.Event.Position <= 0 {
					return &undecodable{fmt.Errorf("event %d (%s) has no position", n, m.Event.ID)}
				}
				return fmt.Errorf("%w: event %s at version %d is at position %d, not past position %d, where this subscription had got to",
					ErrLogReset, m.Event.ID, n, m.Event.Position, s.position)
			}
			if s.streams != nil {
				if why := s.streams.next(&m.Event); why != "" {
					// The event skipped, if one was, is behind the resume
					// point: no reconnection brings it.
					return &undecodable{fmt.Errorf("event %d (%s) of stream %s at version %d came %s", n, m.Event.ID, m.Event.StreamID, m.Event.Version, why)}
				}
			}
			s.last, s.resume = n, true
			s.latest = delivered{n, m.Event.ID}
			s.remember(n, m.Event.ID)
			s.position = max(s.position, m.Event.Position)
		case f.event == "caught-up":
			// Digits only: Tributary sends a version or position. Anything
			// else is another protocol, which a reconnection would meet
			// again: the iteration ends, rather than come back for ever.
			n, err := strconv.ParseInt(f.data, 10, 64)
			if err != nil || strings.Trim(f.data, "0123456789") != "" {
				return &undecodable{fmt.Errorf("the caught-up frame after id %d holds %.40q, not a version or position", s.last, f.data)}
			}
			if n < s.last {
				// The server has sent everything it has, and its head is
				// behind what was delivered (or the caller's starting
				// point, on a first connection, which Tributary refuses
				// as ahead): a new, shorter log, whose events before
				// the places the client knows were dropped unseen.
				if s.resume {
					return fmt.Errorf("%w: the server is caught up at %s %d, behind the %d this subscription had got to",
						ErrLogReset, s.unit(), n, s.last)
				}
				return &undecodable{fmt.Errorf("%w: the server is caught up at %s %d, behind the starting point %d",
					ErrStartingPointAhead, s.unit(), n, s.last)}
			}
			if s.checking {
				return fmt.Errorf("%w: the resumption asked again for event %s, delivered at %s %d, and the server is caught up at %d without it",
					ErrLogReset, s.latest.id, s.unit(), s.latest.n, n)
			}
			if s.opts.StreamID != uuid.Nil && n > s.last {
				// Tributary's caught-up on a stream is the last version it
				// sent: one past it tells the consumer it has versions it
				// was never given.
				return &undecodable{fmt.Errorf("the caught-up frame says version %d, after version %d: version %s is missing", n, s.last, span(s.last+1, n))}
			}
			m = Message{CaughtUp: true, At: n}
		default:
			// All but the retry frame, which comes first, come at
			// heartbeat time, or with events.
			if !heard && f.retry == 0 {
				heard = true
				// The server's heartbeat starts once it has answered: a
				// first keep-alive within IdleTimeout of the answer (read
				// then or later) shows one that IdleTimeout covers. An idle
				// timeout grown by connections that went silent before any
				// keep-alive (a server frozen, a partition) goes back to
				// it, for this connection and the next: grown, a dead
				// connection took up to eight times as long to notice.
				if s.idle > s.opts.IdleTimeout && time.Since(answeredAt) <= s.opts.IdleTimeout {
					s.idle, activity.d = s.opts.IdleTimeout, s.opts.IdleTimeout
					silent.d.Store(int64(s.idle))
					idle.Reset(s.idle)
				}
			}
			if err := s.advance(f); err != nil {
				return err
			}
			continue // a keep-alive, an id-only frame, the retry frame
		}
		if m.CaughtUp {
			if err := s.advance(f); err != nil {
				return err
			}
		}
		// What is buffered is read without the context's say: once it has
		// ended, nothing more is delivered (an idle timeout, which only
		// ends the connection, still lets what was read through).
		if err := outer.Err(); err != nil {
			return err
		}
		// The consumer's time is not the connection's: while it handles a
		// message nothing is read, however many keep-alives arrive.
		idle.Stop()
		if !s.yield(m, nil) {
			s.stopped = true
			return nil
		}
		idle.Reset(s.idle)
	}
}

// maxIdleGrowth bounds how far connections cut before any keep-alive grow
// the idle timeout: eight times IdleTimeout, 6 minutes by default, three
// heartbeats of 2 minutes.
const maxIdleGrowth = 8

// span names the versions from first to last: "3", or "3 to 5".
func span(first, last int64) string {
	if last > first {
		return strconv.FormatInt(first, 10) + " to " + strconv.FormatInt(last, 10)
	}
	return strconv.FormatInt(first, 10)
}

// advance moves the resume point of a log subscription to the id of a
// frame that brings no event, as the server sends to move a filtered
// subscription past events that do not match; an id that is no number,
// or not past the resume point, is ignored, and so is any on a stream
// subscription, whose versions come without gaps: moving past one would
// drop the events up to it as delivered.
//
// While a resumption checks the event it asked for again, an id that
// reaches its place says the server passed it without sending it (the
// filter, which let it through before, left out what is there now, or
// nothing is): ErrLogReset. Moved past it, the next connection resumed
// there unchecked, and delivered the new log's events as the old one's.
func (s *subscription) advance(f frame) error {
	if !f.hasID || s.opts.StreamID != uuid.Nil {
		return nil
	}
	n, err := strconv.ParseInt(f.id, 10, 64)
	if err != nil {
		return nil //nolint:nilerr // an id that is no number moves nothing
	}
	if s.checking && n >= s.latest.n {
		return fmt.Errorf("%w: the resumption asked again for event %s, delivered at position %d, and the server went past it to %d without it",
			ErrLogReset, s.latest.id, s.latest.n, n)
	}
	if n > s.last {
		s.last, s.resume, s.position = n, true, n
	}
	return nil
}

// silence is why a connection that brought no byte for its idle timeout,
// d, was cut; d changes when the timeout goes back to IdleTimeout while the
// connection runs.
type silence struct{ d atomic.Int64 }

func (e *silence) Error() string {
	return fmt.Sprintf("no byte came for %v (IdleTimeout)", time.Duration(e.d.Load()))
}

// activityReader pushes the idle deadline back whenever bytes arrive.
type activityReader struct {
	r    io.Reader
	idle *time.Timer
	d    time.Duration
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.idle.Reset(a.d)
	}
	return n, err
}

// frame is one block of a text/event-stream, up to a blank line.
type frame struct {
	id      string
	hasID   bool
	event   string
	data    string
	hasData bool
	retry   time.Duration
}

// errFrameTooLong is a frame longer than SubscribeOptions.MaxFrameBytes.
var errFrameTooLong = errors.New("a frame longer than SubscribeOptions.MaxFrameBytes")

// newFrameReader reads an event stream's lines, as the WHATWG rules split
// them.
func newFrameReader(r io.Reader) *sseline.Reader { return sseline.NewReader(r, 0) }

// readFrame reads the next frame, per the WHATWG rules (HTML §9.2.5) for
// the fields this server sends: one leading UTF-8 byte-order mark is no
// part of the stream, and lines end in CR LF, LF or CR. Comments
// (keep-alives) are read and dropped; a frame of comments only comes back
// empty. A frame of more than most bytes, its comments and line ends
// included (a CR LF counting two), is errFrameTooLong, once most bytes of
// it are read. A frame that ends in a CR the moment it has most bytes,
// with no byte after it read yet, waits for the next byte: an LF there
// is part of the frame, one byte too many.
func readFrame(r *sseline.Reader, most int) (frame, error) {
	var f frame
	// The data lines, joined by LF as they come: a slice of them held a
	// string header of 16 bytes for each line of 6 ("data:"), grown copy
	// by copy, many times the frame's bytes. The usual frame, of one data
	// line, keeps that line's string without a copy.
	var data strings.Builder
	joined := false
	begun := false
	size := 0
	for {
		if !begun {
			// The LF of a CR LF that came after its CR, which ended the
			// frame before or a blank line between frames, is not this
			// frame's: taken first, it is counted against neither.
			if _, err := r.TakeLF(); err != nil {
				return frame{}, err
			}
			size = 0
		}
		line, n, err := r.ReadLine(most - size)
		size += n
		if errors.Is(err, sseline.ErrTooLong) {
			return frame{}, errFrameTooLong
		}
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF // a frame cut short is dropped
			}
			return frame{}, err
		}
		if line == "" {
			if !begun {
				continue // blank lines between frames are no frame's
			}
			if size == most {
				// At the bound, the LF of a closing CR LF that has not come
				// yet would be the byte too many: wait to see it. An error
				// reading it is the next frame's, met again there.
				if lf, _ := r.TakeLF(); lf > 0 {
					return frame{}, errFrameTooLong
				}
			}
			if joined {
				f.data = data.String()
			}
			return f, nil
		}
		begun = true
		if line[0] == ':' {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			if !strings.ContainsRune(value, 0) {
				f.id, f.hasID = value, true
			}
		case "event":
			f.event = value
		case "data":
			switch {
			case !f.hasData:
				f.data, f.hasData = value, true
			case !joined:
				data.WriteString(f.data)
				joined = true
				fallthrough
			default:
				data.WriteByte('\n')
				data.WriteString(value)
			}
		case "retry":
			// ASCII digits only (WHATWG); past int64, ParseInt gives the
			// largest it holds, and milliseconds past the longest Duration
			// are the longest Duration, not a product that overflows.
			if value != "" && strings.Trim(value, "0123456789") == "" {
				ms, _ := strconv.ParseInt(value, 10, 64)
				f.retry = time.Duration(min(ms, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
			}
		}
	}
}

// undecodable is an event frame the client cannot decode: the iteration
// ends there, rather than resume after it, which would skip the event, or
// before it, which would meet it again without end.
type undecodable struct{ err error }

func (u *undecodable) Error() string { return u.err.Error() }
func (u *undecodable) Unwrap() error { return u.err }

// maxServerWait bounds the wait a server may ask for (Retry-After,
// retry:), unless MaxBackoff is longer: what the client waits, its jitter
// included, never goes past it.
const maxServerWait = 5 * time.Minute

// pageAnswers is how many answers in a row that are Tributary's page of
// events end a subscription: a few, so that one instance or proxy at
// fault among several behind a load balancer does not.
const pageAnswers = 3

// errPageNotStream ends a subscription answered pageAnswers times in a
// row with a page of events.
var errPageNotStream = errors.New("the answer is not an event stream but a page of events, Tributary's answer to a request without Accept: text/event-stream")

// eventsPage reports whether body, read up to pageLookBytes, opens as
// Tributary's page of events: a JSON object with an "events" array
// among its members (first in the log's page, after the stream's
// description in a stream's).
func eventsPage(body io.Reader) bool {
	dec := json.NewDecoder(boundedBody(body, pageLookBytes))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		name, err := dec.Token()
		if err != nil {
			return false
		}
		if name == "events" {
			t, err := dec.Token()
			return err == nil && t == json.Delim('[')
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// ErrSubscriptionStopped ends a subscription the server answered 204 No
// Content: the way a server tells a subscriber to stop reconnecting, at
// which a browser's EventSource stops too (WHATWG HTML §9.2). Tributary
// does not send it; a server or proxy in front that does means it.
var ErrSubscriptionStopped = errors.New("the server told the subscriber to stop (204 No Content)")

// errMovedPermanently is a 301 or 308 answer to a subscription, which
// net/http hands over instead of following it when the caller's
// CheckRedirect answers http.ErrUseLastResponse.
var errMovedPermanently = errors.New("the subscription's URL moved permanently")

// pageLookBytes bounds what eventsPage reads of an answer.
const pageLookBytes = 64 << 10

// unreadableAnswer reports whether err is net/http's failing to read an
// answer that came: bytes that are no HTTP answer (a malformed status
// line, version or header), from the server or from a forward proxy to
// CONNECT. Go exports a type for a header's (textproto.ProtocolError),
// none for the status line's (net/http's badStringError), known by its
// text, which TestGoStillWordsTheErrorsMayPassKnows checks against Go's
// source.
func unreadableAnswer(err error) bool {
	if _, ok := errors.AsType[textproto.ProtocolError](err); ok {
		return true
	}
	return inTree(err, func(e error) bool { return strings.HasPrefix(e.Error(), "malformed HTTP ") })
}

// transportRefusals is how many attempts in a row a subscription makes
// that fail short of an answer with an error not known to pass (mayPass):
// the caller's RoundTripper refusing, a redirect to a scheme the
// transport does not speak, a Location that is no URL (an answer net/http
// cannot read is not one: unreadableAnswer). Every attempt meets them
// again, unless one is a passing
// fault Go words in a way the client does not know (a Go upgrade's): a
// few attempts, not one, end the subscription.
const transportRefusals = 3

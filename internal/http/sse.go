package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// aheadError is a subscription's starting point that the server has never
// reached: a version past the stream's, or a position past the log's head.
// Skipping to it would hide from the client that its id comes from
// elsewhere (another or a restored database).
type aheadError struct {
	requested, current int64
	detail             string
}

func (e *aheadError) Error() string { return e.detail }
func (e *aheadError) Unwrap() error { return errStartAhead }

// Feed is the live feed of the log that subscriptions are opened on
// (fanout.Feed is one). What the server needs of it is all here, none
// found by a type assertion: a wrapper of the feed that embeds Feed would
// lose such a method silently (/readyz saying nothing of a stall, the
// reads before a subscription opens taking no turns, a damaged database's
// subscriptions opened), and one that does not implement it does not compile.
type Feed interface {
	Subscribe(opts eventstore.SubscribeOptions) eventstore.Subscription
	// LastPoll returns when the feed last read the log successfully, for
	// /readyz's live_feed (Options.FeedStaleAfter); the zero time for a
	// feed that cannot say, which is never judged stalled.
	LastPoll() time.Time
	// Unmendable returns the error that ends every subscription, the
	// database being one no retry mends (damaged, a table missing), or
	// nil: a subscription is refused with it at its start (openEvents).
	Unmendable() error
	// Reading takes a turn among the subscriptions' reads of history for a
	// read of the store a subscription makes before it opens, and returns
	// what ends it (startRead); a feed without turns returns a func that
	// does nothing.
	Reading(ctx context.Context) (func(), error)
}

// startRead takes a turn among the subscriptions' reads of history for a
// read of the store a subscription makes before it opens, and returns what
// ends it. A hundred opening at once took every connection of the read pool
// with their reads of their streams, and clients' reads of pages waited
// for one. (The log's head is one query for all who wait, see sqlstore's
// sharedHead, and needs no turn.)
func (s *Server) startRead(ctx context.Context) (func(), error) {
	if s.opts.Feed == nil {
		return func() {}, nil
	}
	return s.opts.Feed.Reading(ctx)
}

// streamInTurn reads stream id for a subscription before it opens, in a turn
// among the reads of history (startRead). The turn is given back however
// the read ends, a panic included: kept, it was gone for good, and with
// CatchUpReads of them every subscription's read of history waited.
func (s *Server) streamInTurn(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	done, err := s.startRead(ctx)
	if err != nil {
		return eventstore.Stream{}, err
	}
	defer done()
	return s.store.Stream(ctx, id)
}

// retryMillis is what the first frame tells EventSource to wait before it
// reconnects.
const retryMillis = 2000

// missingIndexRetryMillis is what the last frame of a subscription ended by
// a missing index tells EventSource to wait: it stays missing until an
// operator makes it again, and every 2 s from every client read nothing.
const missingIndexRetryMillis = 60000

// missingIndexEvery is the least time between two lines of subscriptions
// ended by a missing index (endedBy).
const missingIndexEvery = time.Minute

// wantsEvents reports whether the client asks for a subscription: Accept
// names text/event-stream, not with q=0, which refuses it (RFC 9110
// §12.4.2), and does not prefer JSON to it: a page is the answer when
// application/json's q (from the most specific range that matches it:
// itself, application/*, */*) is higher (RFC 9110 §12.5.1). As good as
// JSON, an event stream wins: it was named.
func wantsEvents(r *http.Request) bool {
	events, named, json := acceptWeights(r, "application/json")
	return named && events > 0 && events >= json
}

// wantsOnlyEvents reports whether the client asks for an event stream and
// takes none of served (media types, application/json where none is
// given): Accept names text/event-stream, not with q=0, and no range that
// matches one of served gives it a q above 0. On a URL that serves those
// alone, nothing it takes can be sent (406, refuseEventStream).
func wantsOnlyEvents(r *http.Request, served ...string) bool {
	if len(served) == 0 {
		served = []string{"application/json"}
	}
	for _, mt := range served {
		events, named, q := acceptWeights(r, mt)
		if !named || events <= 0 || q > 0 {
			return false
		}
	}
	return true
}

// acceptWeights reads Accept for text/event-stream's q and whether a range
// names it, and served's q (a media type's, lower case; 0 where no range
// matches it), as wantsEvents says.
func acceptWeights(r *http.Request, served string) (events float64, named bool, q float64) {
	events = -1
	spec := 0 // how specific served's range is
	accept := r.Header.Values("Accept")
	if !slices.ContainsFunc(accept, func(v string) bool { return strings.Contains(strings.ToLower(v), "text/event-stream") }) {
		return events, false, 0 // most requests: no need to parse
	}
	major, _, _ := strings.Cut(served, "/")
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			rq, ok := acceptQ(params)
			if !ok {
				continue // an invalid q: the range is ignored (acceptQ)
			}
			if mt == "text/event-stream" { // mime lower-cases it
				if !named || rq < events {
					events = rq // given twice, the lower q: a refusal stands
				}
				named = true
			}
			switch {
			case mt == served:
				q, spec = rq, 3
			case mt == major+"/*":
				if spec < 2 {
					q, spec = rq, 2
				}
			case mt == "*/*":
				if spec < 1 {
					q, spec = rq, 1
				}
			}
		}
	}
	return events, named, q
}

// refuseEventStream is the 406 of a GET of what, a URL that serves served
// alone (media types; application/json where none is given), from a client
// that takes an event stream and none of served (wantsOnlyEvents): an EventSource given
// the wrong URL, which a 200 would have it retry for ever; nil for any
// other client.
func refuseEventStream(r *http.Request, what string, served ...string) error {
	if !wantsOnlyEvents(r, served...) {
		return nil
	}
	as := "application/json"
	if len(served) > 0 {
		as = strings.Join(served, " or ")
	}
	return notAcceptable(what, as)
}

// notAcceptable is the 406 of a request whose Accept takes text/event-stream
// and not what (a description) is served as, as (its media types).
func notAcceptable(what, as string) error {
	return problemf(errNotAcceptable, "%s is served only as %s, and this request's Accept takes text/event-stream and not %s: "+
		"subscribe at GET /streams/{stream_id}/events (a stream's events) or GET /events (the log), or accept %s here", what, as, as, as)
}

// quotedList is vals quoted, for a detail: `"1", "2" and "3"` (one string,
// redacted and cut as one, as problemf does each).
func quotedList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = strconv.Quote(v)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// noLastEventID refuses Last-Event-ID on a page's read, where it was
// ignored without a word and the page began at the start: a client that
// resumes with it, its Accept: text/event-stream lost (a proxy, a fetch
// wrapper), read everything again. param is the page's own starting point.
// An empty one, as absent, is taken; so is one that names the start the
// query gives (given, and same of it): the page starts where the
// subscription would have, and reads nothing again. The Go client resumes
// with both, and waits out a page answered so (one proxy of several that
// drops Accept); a 400 there ended its subscription at once.
func noLastEventID(r *http.Request, param string, given bool, same func(last int64) bool) error {
	vals := r.Header.Values("Last-Event-ID")
	if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
		return nil
	}
	if last, ok, err := lastEventID(r); given && ok && err == nil && same(last) {
		return nil
	}
	return badRequest("Last-Event-ID is only for subscriptions (Accept: text/event-stream); a page starts at %s: "+
		"send that, or ask for text/event-stream to subscribe", param)
}

// lastEventID reads the Last-Event-ID header an EventSource sends when it
// reconnects: a version for a stream, a position for the log.
func lastEventID(r *http.Request) (int64, bool, error) {
	vals := r.Header.Values("Last-Event-ID")
	if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
		return 0, false, nil
	}
	if len(vals) > 1 {
		return 0, false, badRequest("send one Last-Event-ID header, not %d (got %s)", len(vals), quotedList(vals))
	}
	n, refused := parseNumber(trimHTTPSpace(vals[0]))
	switch refused {
	case leadingZero:
		return 0, false, badRequest("Last-Event-ID is written without leading zeros, as the server writes ids, got %q", vals[0])
	case outOfRange:
		return 0, false, badRequest("Last-Event-ID is out of range: it must be at most %d (the id of the last event received), got %q", int64(1<<63-1), vals[0])
	case notDigits:
		return 0, false, badRequest("Last-Event-ID must be a whole number ≥ 0 (the id of the last event received), got %q", vals[0])
	}
	return n, true, nil
}

// subscribeStream serves GET /streams/{id}/events as server-sent events.
func (s *Server) subscribeStream(w http.ResponseWriter, r *http.Request, id uuid.UUID) error {
	if err := noBody(r); err != nil {
		return err
	}
	q, err := query(r, streamParams...)
	if err != nil {
		return err
	}
	switch d := q.Get("direction"); d {
	case "", "forward":
	case "backward":
		return badRequest("a subscription reads forward; direction=backward is only for pages")
	default:
		return badRequest("query parameter direction must be forward or backward, got %q", d)
	}
	if err := noLimit(q); err != nil {
		return err
	}
	if err := noConditions(r); err != nil {
		return err
	}
	from, err := intParam(q, "from", 1, 1, 1<<63-1)
	if err != nil {
		return err
	}
	opts := &eventstore.SubscribeOptions{StreamID: id, FromVersion: from}
	// seen is the last version the client says it has; requested is the
	// number it gave, and asked says how.
	seen, requested, asked := from-1, from, "from="+strconv.FormatInt(from, 10)
	if last, ok, err := lastEventID(r); err != nil {
		return err
	} else if ok {
		opts.FromVersion, seen, requested, asked = last+1, last, last, "Last-Event-ID "+strconv.FormatInt(last, 10)
		if last == math.MaxInt64 {
			opts.FromVersion = last // no version can follow it
		}
	}
	start, started := s.starting(r)
	defer started()
	if err := s.admit(start); err != nil {
		return s.aheadAtLimit(start, err, func(ctx context.Context) error {
			if s.known.version(id) >= seen {
				return nil
			}
			st, err := s.streamInTurn(ctx, id)
			if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
				return err
			}
			s.known.noteVersion(id, st.Version)
			if ahead := streamAhead(id, seen, st.Version, requested, asked); ahead != nil {
				return ahead
			}
			return nil
		})
	}
	if err := s.startStream(start, id, seen, requested, asked); err != nil && !s.closedStart(r, start) {
		return err
	}
	started()
	return s.serveEvents(w, r, opts, true)
}

// noBody refuses a subscription that says it has a body (Content-Length
// above 0, or chunked): a subscription has none, and no SSE client sends
// one (an EventSource cannot). Served, one whose body never came waited
// for it: net/http reads what is left of a small unread body before a
// kept-alive response's first bytes, so it had no answer until the
// ReadTimeout, holding a subscription place and a stop's drain meanwhile.
// Nor does net/http watch for the client's going until a body has ended,
// so served with the connection closing after it, one whose client left
// would still hold its place until a write failed. Refused, it is answered
// at once and the connection closed (writeError: closeUnread), before it
// takes a place. A body sent whole is refused too: telling it from one
// still to come would take waiting for it.
func noBody(r *http.Request) error {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	framing := "Transfer-Encoding: chunked"
	if r.ContentLength > 0 {
		framing = "Content-Length: " + strconv.FormatInt(r.ContentLength, 10)
	}
	return badRequest("a subscription has no body, and this one said it had one (%s): send it without Content-Length or Transfer-Encoding", framing)
}

// noLimit refuses limit on a subscription, as direction=backward is: it
// sends every event as it commits, for as long as it is open. It took
// limit, checked as a page's, and ignored it: GET /events?limit=5 as a
// subscription sent everything, for ever.
func noLimit(q url.Values) error {
	if q.Has("limit") {
		return badRequest("a subscription sends every event, for as long as it is open; limit is only for pages: leave it out")
	}
	return nil
}

// noConditions checks If-Match and If-None-Match on a subscription, of a
// stream or of the log, which took them and ran as if they were not sent.
// It has no entity tag: If-Match holds only as *, anything else is a 412
// (noTagMatches). If-None-Match is refused as limit is, a 400: the page of
// the same URL answers 304 for it (for * on the log's), which no
// subscription can; the log's took it and ran while the stream's refused
// it. (An EventSource sends neither.)
func noConditions(r *http.Request) error {
	if _, sent := r.Header["If-None-Match"]; sent {
		return badRequest("a subscription sends every event from its starting point on, whatever the version or position; If-None-Match is only for pages: leave it out")
	}
	return noTagMatches(r, "a subscription")
}

// startStream is what a subscription of stream id that has seen version seen
// (requested, as asked) checks and waits for before it opens.
func (s *Server) startStream(r *http.Request, id uuid.UUID, seen, requested int64, asked string) error {
	if err := s.awaitMinPosition(r); err != nil {
		return err
	}
	// The stream (or, from its start, the log's head) is read whatever the
	// starting point: while the database cannot be reached, a 503 (see
	// subscribeLog).
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	var (
		st  eventstore.Stream
		err error
	)
	if seen > 0 {
		st, err = s.streamInTurn(ctx, id)
	} else {
		_, err = s.store.Head(ctx)
	}
	cancel()
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return err
	}
	if err == nil {
		s.known.noteVersion(id, st.Version)
	}
	if ahead := streamAhead(id, seen, st.Version, requested, asked); ahead != nil {
		return s.awaitStreamStart(r.Context(), id, seen, asked, ahead)
	}
	return nil
}

// streamAhead is the 409 of a subscription of stream id that has seen
// version seen (requested, as asked) where the stream is at version, or
// nil if it is not past it.
func streamAhead(id uuid.UUID, seen, version, requested int64, asked string) *aheadError {
	if seen <= version {
		return nil
	}
	return &aheadError{requested: requested, current: version,
		detail: fmt.Sprintf("%s starts after version %d, but stream %s is at version %d: this server has never reached that point. "+
			"The starting point may come from another or a restored database; %s.", asked, seen, id, version, subscribeAgain(version))}
}

// subscribeAgain is the advice of a stream subscription's 409 where the
// stream is at version: a starting point the stream takes. (One at
// version 0 has none but its first.)
func subscribeAgain(version int64) string {
	if version == 0 {
		return "subscribe again from=1, for all of it"
	}
	return fmt.Sprintf("subscribe again from=%d or lower (from=1 for all of it)", version+1)
}

// logAhead is the 409 of a subscription of the log after position after
// (as asked) where the log's head is head, or nil if it is not past it.
func logAhead(after, head int64, asked string) *aheadError {
	if after <= head {
		return nil
	}
	return &aheadError{requested: after, current: head,
		detail: fmt.Sprintf("%s is past the end of the log, whose last position is %d: this server has never reached that point. "+
			"The starting point may come from another or a restored database; %s.", asked, head, subscribeAgainAfter(head))}
}

// subscribeAgainAfter is the advice of a log subscription's 409 where the
// log's head is head: a starting point the log takes. (An empty log takes
// only 0, the lowest.)
func subscribeAgainAfter(head int64) string {
	if head == 0 {
		return "subscribe again after=0, for all of it"
	}
	return fmt.Sprintf("subscribe again after=%d or lower (after=0 for all of it)", head)
}

// subscribeLog serves GET /events as server-sent events.
func (s *Server) subscribeLog(w http.ResponseWriter, r *http.Request, opts eventstore.ReadAllOptions) error {
	// readAll has parsed the query strictly, and checked limit as a page's.
	if err := noBody(r); err != nil {
		return err
	}
	if err := noLimit(r.URL.Query()); err != nil {
		return err
	}
	if err := noConditions(r); err != nil {
		return err
	}
	sub := &eventstore.SubscribeOptions{After: opts.After, StreamTypes: opts.StreamTypes, EventTypes: opts.EventTypes}
	asked := "after=" + strconv.FormatInt(opts.After, 10)
	if last, ok, err := lastEventID(r); err != nil {
		return err
	} else if ok {
		sub.After, asked = last, "Last-Event-ID "+strconv.FormatInt(last, 10)
	}
	start, started := s.starting(r)
	defer started()
	if err := s.admit(start); err != nil {
		return s.aheadAtLimit(start, err, func(ctx context.Context) error {
			if s.known.head.Load() >= sub.After {
				return nil
			}
			head, err := s.store.Head(ctx)
			if err != nil {
				return err
			}
			s.known.noteHead(head)
			if ahead := logAhead(sub.After, head, asked); ahead != nil {
				return s.aheadOfSoundLog(ctx, ahead)
			}
			return nil
		})
	}
	if err := s.startLog(start, sub.After, asked); err != nil && !s.closedStart(r, start) {
		return err
	}
	started()
	return s.serveEvents(w, r, sub, false)
}

// startLog is what a subscription of the log after position after (as
// asked) checks and waits for before it opens.
func (s *Server) startLog(r *http.Request, after int64, asked string) error {
	if err := s.awaitMinPosition(r); err != nil {
		return err
	}
	// The head is read whatever the starting point: a subscription opened
	// while the database cannot be reached is a 503 with Retry-After, as
	// every other request then is. Without a starting point it was a 200
	// with keep-alives and no caught-up until the database came back, which
	// a client cannot tell from a long history, and a load balancer took
	// for an instance that serves.
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	head, err := s.store.Head(ctx)
	cancel()
	if err != nil {
		return err
	}
	s.known.noteHead(head)
	if ahead := logAhead(after, head, asked); ahead != nil {
		return s.awaitLogStart(r.Context(), after, asked, ahead)
	}
	return nil
}

// starting is r with a context that also ends when the server begins to
// close (CloseSubscriptions), for a subscription's start: its reads of the
// head or its stream, and its waits for a lagging read replica
// (awaitMinPosition, awaitLogStart, awaitStreamStart), which may last the
// request timeout. On r's own context, shutdown waited for them to end,
// the drain held up to its timeout, and the client was then answered 503,
// on which an EventSource stops for ever. Call started once the start is
// done.
func (s *Server) starting(r *http.Request) (start *http.Request, started func()) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.closingCtx, cancel)
	return r.WithContext(ctx), func() { stop(); cancel() }
}

// closedStart reports whether a subscription's start (on start, from
// starting) ended because the server began to close while its client is
// still there: it is then answered as one that opens during shutdown is
// (serveEvents: its headers and retry frame, then a clean end, before any
// read of the store), and the client reconnects elsewhere.
func (s *Server) closedStart(r, start *http.Request) bool {
	return start.Context().Err() != nil && r.Context().Err() == nil && s.closingCtx.Err() != nil
}

// admit is the 503 of a subscription past its client's share
// (takeClientPlace, which takes the place) or the instance's limit
// (atCapacity), once the request has passed its own checks: a bad request
// is a 400 whatever the load.
func (s *Server) admit(r *http.Request) error {
	if err := s.takeClientPlace(r); err != nil {
		return err
	}
	return s.atCapacity()
}

// aheadAtLimit is the answer to a subscription refused at a limit on
// subscriptions (admit's 503, refused): ahead's 409 if its starting point
// is past the stream's version or the log's head, which is wrong whatever
// the load and must be told so, and so is a Tributary-Min-Position past
// the log's head; else refused. ahead returns the 409, nil, or a read's
// error, and reads only where known does not already reach the starting
// point: a storm of reconnections at the limit costs a read the first time
// a stream or the head has moved, not one each (but for starting points
// truly ahead, which read each time and are told their 409, on which an
// EventSource stops). Where reads may lag (a
// replica, Galera), telling takes a wait (awaitLogStart): there, and where
// the read fails, refused stands.
func (s *Server) aheadAtLimit(r *http.Request, refused error, ahead func(context.Context) error) error {
	if s.opts.Replica != nil || s.opts.ReadsMayLag {
		return refused
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
	defer cancel()
	var a *aheadError
	if want, ok := r.Context().Value(minPositionKey{}).(int64); ok && want > s.known.head.Load() {
		// Where reads see every append, it reads the head once, and waits
		// for nothing.
		switch err := s.awaitMinPosition(r.WithContext(ctx)); {
		case err == nil:
			s.known.noteHead(want) // the head has reached it
		case errors.As(err, &a), errors.Is(err, eventstore.ErrDamaged): // see aheadOfSoundLog
			return err
		}
	}
	if err := ahead(ctx); errors.As(err, &a) || errors.Is(err, eventstore.ErrDamaged) {
		return err
	}
	return refused
}

// known is how far the log's head and its streams' versions are known to
// reach, from the reads this server made: they only grow (but for a
// restored database, where a subscription refused at a limit is then a
// 503 where it could be a 409, until a place is free).
type known struct {
	head     atomic.Int64
	mu       sync.Mutex
	versions map[uuid.UUID]int64 // at most maxKnownVersions streams
}

// maxKnownVersions bounds the streams whose versions known keeps: past it,
// it forgets them all, and reads again.
const maxKnownVersions = 10000

func (k *known) noteHead(head int64) {
	for old := k.head.Load(); head > old && !k.head.CompareAndSwap(old, head); old = k.head.Load() {
	}
}

func (k *known) version(id uuid.UUID) int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.versions[id]
}

func (k *known) noteVersion(id uuid.UUID, version int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if version <= k.versions[id] {
		return
	}
	if k.versions == nil || len(k.versions) >= maxKnownVersions {
		k.versions = make(map[uuid.UUID]int64)
	}
	k.versions[id] = version
}

// atCapacity is the 503 a subscription meets when the instance holds
// TRIBUTARY_MAX_SUBSCRIBERS, before it reads the database: at the cap, a
// storm of reconnections must not cost a query each. (openEvents takes the
// place, and checks again.)
func (s *Server) atCapacity() error {
	if s.subscribers.Load() >= int64(s.opts.MaxSubscribers) {
		return s.tooManySubscribers()
	}
	return nil
}

// serveEvents writes a subscription as a text/event-stream: retry first, then
// history, one caught-up event, and live events with keep-alive comments, until
// the client leaves or the server shuts down. Frame ids are versions for a
// stream and positions for the log, so EventSource resumes where it stopped.
//
// Until it has caught up, the subscription runs on this goroutine: each turn
// gathers everything the feed has ready into one pooled buffer, hands it to
// net/http's response buffer in one write and flushes once. Once it is live,
// it takes the connection over from net/http (detach) and goes on on a small
// goroutine of its own, which writes each batch to the socket in one system
// call and waits for more; net/http's goroutine, its buffers and the request
// are released. An idle subscriber then costs two small goroutines (its own
// and a reader that sees the client leave) and no buffer. Where the
// connection cannot be taken over (HTTP/2), it stays on this goroutine.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, opts *eventstore.SubscribeOptions, stream bool) error {
	ew, err := s.openEvents(w, r, opts, stream)
	if ew == nil {
		return err
	}
	detached := false
	defer func() {
		// Also after a panic, which the recoverer turns into a cut
		// connection: the subscription's place, its feed subscription and
		// its gauge are given back.
		if !detached {
			ew.close()
		}
	}()
	if ew.run(r.Context(), true) {
		if detached = ew.detach(w, r); detached {
			return nil
		}
		ew.run(r.Context(), false)
	}
	return nil
}

// detach takes the connection over from net/http and runs the rest of the
// subscription on a goroutine of its own. It reports false, having changed
// nothing, where the connection cannot be taken over.
func (ew *eventWriter) detach(w http.ResponseWriter, r *http.Request) bool {
	// Everything written so far was flushed by run, so net/http holds no
	// byte of the response; from here on this writes the chunks itself.
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	ew.conn, ew.chunked, ew.w, ew.rc = conn, r.ProtoAtLeast(1, 1), nil, nil
	ew.try = tryWriter(conn)
	ew.guard.useConn(conn)
	logged := detachAccessEntry(r)
	s := ew.s
	s.handling.Add(1) // Wait covers the subscription until it ends
	ctx, cancel := context.WithCancelCause(context.Background())
	path, id := s.logPath(r), s.loggedRequestID(r.Context()) // r itself is not kept
	// What the client sent after its request before the connection was
	// taken over is in net/http's buffer, where watchClose cannot see it:
	// empty lines are let be, anything else (a pipelined request) ends the
	// subscription as watchClose would have.
	lines := &emptyLines{}
	if sent, _ := rw.Reader.Peek(rw.Reader.Buffered()); lines.take(sent) {
		go watchClose(conn, cancel, lines)
	} else {
		cancel(errSentMore)
	}
	var logOnce sync.Once
	logLine := func() { logOnce.Do(func() { logged(ew.sent) }) }
	go func() {
		defer s.handling.Add(-1)
		defer cancel(nil)
		defer func() {
			// Off net/http's goroutine, a panic would end the process:
			// log it as the recoverer does, and end only this subscription.
			if rec := recover(); rec != nil {
				s.logPanic(rec, "in", "subscription", "path", path, "request_id", id)
			}
			ew.endTurn() // a panic in a turn must not keep it from the others
			ew.close()
			logLine()
		}()
		ew.run(ctx, false)
		if context.Cause(ctx) == errSentMore && ew.err == nil && !ew.ending() {
			// Ended for what the client sent: end the body, and read what
			// it sends meanwhile before the close. Closed with its bytes
			// unread, the connection is reset, and a reset can drop frames
			// the client has received but not yet read. Its places, its
			// feed subscription and its line are given back and written
			// first: it has ended.
			ew.finish()
			ew.keepConn = true
			ew.close()
			logLine()
			drainClose(conn)
			conn.Close()
		}
	}()
	return true
}

// errSentMore ends a taken-over subscription whose client sent more than
// empty lines after its request (watchClose).
var errSentMore = errors.New("the client sent more than its request")

// ending reports whether the response is ending (end).
func (ew *eventWriter) ending() bool {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	return ew.ended
}

// drainClose closes the sending side of conn and reads what its client still
// sends, up to maxDrainBytes and drainTime, so that the close that follows
// does not reset the connection under what the client has yet to read.
func drainClose(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		if cw.CloseWrite() != nil {
			return
		}
	}
	conn.SetReadDeadline(time.Now().Add(drainTime))          //nolint:errcheck // a failed read ends the drain
	io.Copy(io.Discard, io.LimitReader(conn, maxDrainBytes)) //nolint:errcheck // until the client closes, or the time or bytes end
}

// A subscription ended for what its client sent reads at most this much
// more of it, for at most this long, before it closes the connection.
const (
	maxDrainBytes = 64 << 10
	drainTime     = time.Second
)

// watchClose cancels a taken-over subscription once its client closes the
// connection, as net/http's background read does for a request. A client
// sends nothing after its request but a few empty lines (lines): one that
// sends more (another request, or bytes to keep the server reading) ends its
// subscription too, rather than make the server read for it; it can resume
// with Last-Event-ID.
func watchClose(conn net.Conn, cancel context.CancelCauseFunc, lines *emptyLines) {
	var b [2 * maxEmptyLines]byte
	for {
		n, err := conn.Read(b[:])
		if err != nil {
			cancel(nil)
			return
		}
		if !lines.take(b[:n]) {
			cancel(errSentMore)
			return
		}
	}
}

// maxEmptyLines is how many empty lines a client may send after its
// subscription's request. RFC 9112 §2.2 asks a server to ignore at least one
// before a request, and some clients send a CRLF after theirs; a few more
// are let be, not an endless run.
const maxEmptyLines = 4

// emptyLines follows what a client sends after its subscription's request.
type emptyLines struct {
	n  int  // empty lines so far
	cr bool // the last byte was a CR that starts one
}

// take reports whether b, after what came before, is still only empty lines
// (CRLF, or LF alone), no more than maxEmptyLines of them.
func (l *emptyLines) take(b []byte) bool {
	for _, c := range b {
		switch {
		case c == '\r' && !l.cr:
			l.cr = true
		case c == '\n':
			l.cr = false
			if l.n++; l.n > maxEmptyLines {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// openEvents starts a subscription's response, or returns a nil
// eventWriter and the error to answer with (none for HEAD).
func (s *Server) openEvents(w http.ResponseWriter, r *http.Request, opts *eventstore.SubscribeOptions, stream bool) (*eventWriter, error) {
	if s.opts.Feed == nil {
		return nil, eventstore.ErrUnavailable
	}
	// The feed would end it at its next poll, and the client would
	// reconnect to the same, for ever: it is the 503 the store's error is
	// elsewhere (for a damaged file, without Retry-After).
	if err := s.opts.Feed.Unmendable(); err != nil {
		return nil, err
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream") // no-cache, as every answer (cacheControl)

	h.Set("X-Accel-Buffering", "no") // tell proxies such as nginx not to buffer
	if r.ProtoMajor == 1 {
		// Its connection is closed when it ends (taken over once live:
		// detach): said, a client that sees the body end cleanly does
		// not put the connection back in its pool, for its next request
		// (an append, which Go's client does not send again) to meet EOF.
		h.Set("Connection", "close")
	}
	if r.Method == http.MethodHead {
		// Answered as its GET would be, without taking a place.
		return nil, s.atCapacity()
	}
	if n := s.subscribers.Add(1); n > int64(s.opts.MaxSubscribers) {
		s.subscribers.Add(-1)
		return nil, s.tooManySubscribers()
	}
	ew := &eventWriter{s: s, w: w, rc: http.NewResponseController(w), stream: stream, endpoint: "log", sub: s.opts.Feed.Subscribe(*opts),
		// Every batch of writes and its flush is guarded: a client that
		// takes no bytes for the stall timeout is cut off (it resumes with
		// Last-Event-ID), rather than hold a goroutine and its buffers for
		// ever. A slow reader is not cut while it takes bytes, and falls
		// behind the live buffer to read from the database.
		guard: newStallGuard(w, r, s.opts.StallTimeout)}
	if stream {
		ew.endpoint = "stream"
	} else {
		// The client has every event up to its starting point: an id-only
		// frame (heartbeat) is for a filter's skipped events past it. From
		// 0, one that started at the head got one repeating its own id.
		ew.lastID = opts.After
	}
	if e, ok := r.Context().Value(accessKey{}).(*accessEntry); ok && e.revoked != nil {
		// A write pending on the client is cut at the token's removal, as
		// at shutdown: blocked on a client that reads nothing, or little,
		// it went on for the stall timeout, or as long as the client took
		// bytes, delivering to a revoked holder. The response then ends
		// (run sees revoked), or, cut, its connection is closed.
		ew.revoked = e.revoked.Done()
		ew.stopRevoke = context.AfterFunc(e.revoked, ew.cutRevoked)
	}
	s.opts.Metrics.Subscribed(ew.endpoint, 1)
	ew.emit = ew.deliver
	// Shutdown must not wait for a write that a client is not reading:
	// when it starts, cut every subscription's pending write short. Until
	// the headers and the first frame are written (opening), it only hurries
	// them: a cut there left the client with no answer at all.
	ew.opening = true
	ew.stop = context.AfterFunc(s.closingCtx, ew.cut) // no goroutine until shutdown
	w.WriteHeader(http.StatusOK)
	return ew, nil
}

// close releases what openEvents took, once.
func (ew *eventWriter) close() {
	if ew.closed {
		return
	}
	ew.closed = true
	ew.end()
	ew.stop()
	if ew.stopRevoke != nil {
		ew.stopRevoke()
	}
	ew.unguard() // ended mid-write (a panic): stop the guard's looks
	ew.release() // and its batch, whose large frames count against every live write
	ew.sub.Close()
	if ew.conn != nil && !ew.keepConn {
		ew.conn.Close()
	}
	ew.s.opts.Metrics.Subscribed(ew.endpoint, -1)
	ew.s.subscribers.Add(-1)
}

// eventWriter is one subscription's response.
type eventWriter struct {
	s        *Server
	w        http.ResponseWriter         // until detach
	rc       *http.ResponseController    // w's, until detach
	conn     net.Conn                    // after detach: the client's connection
	chunked  bool                        // after detach: the body is sent in chunks (HTTP/1.1)
	sent     int                         // after detach: bytes written to conn
	try      func([][]byte) (int, error) // after detach: one write that does not wait; nil if none
	vec      [][]byte                    // after detach: the chunk being written (size line, pieces, CRLF)
	size     [18]byte                    // after detach: its size line
	bufs     net.Buffers                 // after detach: what of vec is still to write
	closed   bool
	keepConn bool        // close leaves conn open: the caller drains it (drainClose) and closes it
	started  bool        // the retry frame is written
	live     bool        // the caught-up frame is written
	pause    *time.Timer // after detach: the linger after a write
	turn     bool        // after detach: holds a turn (step)
	sub      eventstore.Subscription
	guard    *stallGuard
	emit     func(eventstore.Delivery) error // deliver, made once
	stop     func() bool                     // unregisters cut
	revoked  <-chan struct{}                 // closed when the subscription's token is removed; nil without access control
	// stopRevoke unregisters the cut of a pending write at the token's
	// removal; nil without access control.
	stopRevoke func() bool
	stream     bool
	endpoint   string // for the metrics: log or stream

	err     error   // the first failed write: the client left
	guarded bool    // writes since the last flush are under the guard
	batch   *[]byte // frames not yet written, from batchPool; nil when idle
	lastID  int64   // the id of the last frame written; a log's starts at its starting point
	// unflushed: before detach, bytes were handed to net/http since the
	// last flush. A batch written as it reached maxBatchBytes (deliver)
	// leaves the last of its pieces in net/http's buffer, which the client
	// does not get until a flush, and which detach would drop.
	unflushed bool
	// progress is where a filtered log subscription has got to: every
	// matching event up to it has been written.
	progress int64
	// refs are the large frames of the batch, which it holds by reference
	// rather than copies (frameCache); refBytes is their size; pieces is
	// the batch laid out for a write.
	refs     []frameRef
	refBytes int
	pieces   [][]byte

	mu      sync.Mutex
	ended   bool // the response is ending: shutdown must not cut its writes
	opening bool // the headers and the first frame are not written yet: shutdown only hurries them
}

// run writes the subscription until the client leaves, the feed stops or
// the server shuts down. With toLive, it returns true instead once the
// subscription is live and has written all it had: the caller may detach.
func (ew *eventWriter) run(ctx context.Context, toLive bool) bool {
	if !ew.started {
		ew.started = true
		b := ew.buffer()
		*b = append(*b, "retry: "+strconv.Itoa(retryMillis)+"\n\n"...)
		err := ew.flush()
		ew.mu.Lock()
		ew.opening = false
		ew.mu.Unlock()
		if err != nil {
			return false // the client left
		}
		select {
		case <-ew.s.closing:
			// Shutdown began while it opened: end it cleanly now, before
			// any read of the store, and the client reconnects elsewhere.
			ew.finish()
			return false
		default:
		}
	}
	heartbeat := time.NewTicker(ew.s.opts.Heartbeat)
	defer heartbeat.Stop()
	// The feed reads history with a context that shutdown ends too: a read
	// that waits on the database (a slow query, or a read pool that others
	// hold) must not hold the drain, nor deliver a page that a client which
	// takes nothing would then hold for closingStall more. Queued on the pool
	// behind each other, a hundred such reads held it for the whole
	// shutdown timeout. The response then ends cleanly (finish).
	reads, stopReads := context.WithCancel(ctx)
	defer stopReads()
	defer context.AfterFunc(ew.s.closingCtx, stopReads)()
	for {
		// The revocation first, at each turn: picked at random beside
		// events waiting (the selects below), it let one more page out to
		// the revoked holder.
		select {
		case <-ew.revoked:
			ew.endRevoked()
			return false
		default:
		}
		wrote, err := ew.step(reads)
		if ew.err != nil {
			return false // the client left
		}
		if err != nil {
			if ctx.Err() == nil {
				ew.endedBy(err)
				ew.finish() // the feed stopped: end cleanly, the client resumes elsewhere
			}
			return false
		}
		if toLive && ew.live {
			return true
		}
		if d := ew.s.linger(); wrote && d > 0 && ew.conn != nil && !ew.placed() {
			// Many live subscribers: gather what the next moment brings
			// into one write rather than write at every commit. Not one
			// that has read the store: it would hold its place in the
			// catch-up budget through the linger, for nothing, while
			// others wait for it.
			ew.s.lingers.Add(1)
			if ew.pause == nil {
				ew.pause = time.NewTimer(d)
			} else {
				ew.pause.Reset(d)
			}
			select {
			case <-ew.pause.C:
			case <-ew.s.closing:
				ew.finish()
				return false
			case <-ew.revoked:
				ew.endRevoked()
				return false
			case <-ctx.Done():
				return false
			}
			continue
		}
		select {
		case <-ew.sub.Ready():
			if !ew.live && ew.guard.waitStalled(time.Now()) {
				// Judged before it reads the store again for a client
				// that takes nothing: the write is cut at once.
				ew.heartbeat() //nolint:errcheck // cut: the client is stalled
				return false
			}
		case <-heartbeat.C:
			// A client that took nothing of what its socket holds for the
			// stall timeout is cut here too, where the subscription waits
			// (a place, a read of the store, the next event), not only in
			// a blocked write. It ends here: a live subscription's
			// keep-alive is one attempt without the guard, which a socket
			// with room takes, and the client kept its subscription until
			// its socket's buffers filled.
			if ew.guard.waitStalled(time.Now()) {
				ew.heartbeat() //nolint:errcheck // cut: the client is stalled
				return false
			}
			if ew.heartbeat() != nil {
				return false
			}
		case <-ew.s.closing:
			// Shutting down: end the response cleanly; EventSource reconnects
			// with Last-Event-ID, to this instance's successor or another one.
			ew.finish()
			return false
		case <-ew.revoked:
			ew.endRevoked()
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// errRevoked ends a subscription whose token was removed from the
// server's set (Access.Replace) while it was open.
var errRevoked = &detailError{kind: errUnauthorized,
	detail: "the access token this subscription was opened with is no longer one of the server's: it was removed or replaced"}

// endRevoked ends the subscription cleanly, its token removed: a last
// event named problem whose data is the 401 a new request with the token
// gets, then the body's end. An EventSource reconnects, is answered 401,
// and stops (its error event); addEventListener('problem', …) sees why.
func (ew *eventWriter) endRevoked() {
	_, p := ew.s.problem(errRevoked)
	ew.problemFrame("", p, 0)
	ew.finish()
}

// endedBy writes the last frame of a subscription that err ends: for a
// 503 of the database's that no retry mends (a missing index, table or
// database, damage, a log head behind its events, a file overwritten; not
// the feed's stop nor a log gone back, after which the client resumes, and
// the feed waits an outage out), an event named problem whose data is the
// problem a read is answered with the same error, and the next subscription
// is, where the feed refuses it at its start (Unmendable). An EventSource
// dispatches no comment, and the body's end alone says nothing: the
// headers went before any read (a read before them waits on a lock on the
// events), so the status cannot say it. onmessage does not see the event;
// addEventListener('problem', …) does.
//
// Where a missing index of the reads of the log filtered on stream or
// event types ended it (dropped by hand), a comment line says so too, the
// retry is long (it stays missing until an operator makes it again, and
// every 2 s from every client read nothing), and the cause is logged at
// WARN, once each missingIndexEvery: the embedded store says it nowhere
// else.
func (ew *eventWriter) endedBy(err error) {
	s := ew.s
	kind, p := s.problem(err)
	if kind.status != http.StatusServiceUnavailable {
		return
	}
	var missing *eventstore.MissingError
	if !errors.As(err, &missing) || missing.Index == "" {
		ew.problemFrame("", p, 0)
		return
	}
	now := time.Now().UnixNano()
	if last := s.indexEndedSaid.Load(); (last == 0 || now-last >= int64(missingIndexEvery)) && s.indexEndedSaid.CompareAndSwap(last, now) {
		s.log.Warn("subscription ended: an index of the database's is missing: the subscriptions of the log filtered on stream or event types "+
			"that use it end at their first read of the store until it is made again", "index", missing.Index, "error", s.redactError(err))
	}
	ew.problemFrame(unavailableDetail(err), p, missingIndexRetryMillis)
}

// problemFrame adds to what is to be written the last frame of a
// subscription (endedBy, endRevoked): a comment line of comment if it is
// not "" (its line breaks made spaces), an event named problem whose data
// is p, a retry of retryMillis if it is above 0, and the blank line that
// ends the frame.
func (ew *eventWriter) problemFrame(comment string, p map[string]any, retryMillis int) {
	b := ew.buffer()
	if comment != "" {
		*b = append(*b, ": "+strings.NewReplacer("\r", " ", "\n", " ").Replace(comment)+"\n"...)
	}
	// encoding/json escapes line breaks: it is one data line (the
	// encoder's own newline ends it), written as a read's is, without HTML
	// escapes.
	var data bytes.Buffer
	enc := json.NewEncoder(&data)
	enc.SetEscapeHTML(false)
	if enc.Encode(p) == nil {
		*b = append(*b, "event: problem\ndata: "...)
		*b = append(*b, data.Bytes()...)
	}
	if retryMillis > 0 {
		*b = append(*b, "retry: "+strconv.Itoa(retryMillis)+"\n"...)
	}
	*b = append(*b, '\n')
}

// liveReader is what a subscription of the live feed offers besides Next:
// a read of the live buffer alone, which never waits on the store.
type liveReader interface {
	NextLive(ctx context.Context, emit func(eventstore.Delivery) error) (bool, error)
}

// step delivers what is ready and writes it; it reports whether there was
// anything to write, and Next's error (a failed write is ew.err).
//
// Once the subscription has taken its connection over, and reads the live
// buffer, this is a turn (turns): at most one subscription per two CPUs
// reads, encodes and writes at once, half as many of them write at once
// (deliveries), and the others wait parked, in order. A commit, or the end
// of a linger, wakes every live subscriber; without turns a thousand would
// be runnable at once, and an append's goroutines, woken by the network,
// would wait behind them for a CPU (docs/performance.md). A turn never waits
// on anything but the CPU: what needs the store, and what the client's
// socket does not take in one write, are done outside it, so a slow client
// or database holds up no other subscription.
func (ew *eventWriter) step(ctx context.Context) (bool, error) {
	// Only where a write can be one attempt that does not wait (try): on a
	// connection that offers none (not a raw socket: TLS, a wrapping
	// listener, or not Linux) every write may wait on the client, so no
	// turn is taken, as before turns.
	if lr, ok := ew.sub.(liveReader); ok && ew.conn != nil && ew.try != nil {
		ew.takeTurn()
		ok, err := lr.NextLive(ctx, ew.emit)
		if ok || err != nil {
			wrote := ew.batch != nil
			if wrote || ew.guarded {
				ew.flush()
			}
			ew.endTurn()
			return wrote, err
		}
		ew.endTurn() // the store must be read: not in a turn
	}
	err := ew.sub.Next(ctx, ew.emit)
	wrote := ew.batch != nil
	if wrote || ew.guarded || ew.unflushed {
		ew.flush()
	}
	return wrote, err
}

// takeTurn waits for a turn, unless the subscription holds one.
func (ew *eventWriter) takeTurn() {
	if !ew.turn {
		ew.s.turns <- struct{}{}
		ew.turn = true
	}
}

// endTurn gives the turn back, if the subscription holds one.
func (ew *eventWriter) endTurn() {
	if ew.turn {
		<-ew.s.turns
		ew.turn = false
	}
}

// Live subscribers linger after each write, so that the next one gathers
// more: lingerPerSubscriber for each subscription open, up to maxLinger, and
// not at all below minLinger (fewer than 50 subscriptions). A thousand
// subscribers then write at most about 25 times a second each, however
// often the log commits: a write (a system call that on loopback also runs
// the client's side) and the wake-up before it are most of what a live
// subscriber costs, and appends wait behind them for a CPU. An event can
// reach a subscriber up to the linger later; with fewer writes to take
// turns for, most reach it sooner (docs/performance.md: 40 ms rather than
// 20 ms at a thousand cut the server's CPU by a seventh and appends' p99
// from 19–39 to 18–20 ms, for a delivery p99 of 53–56 ms).
const (
	lingerPerSubscriber = 40 * time.Microsecond
	minLinger           = 2 * time.Millisecond
	maxLinger           = 40 * time.Millisecond
)

// linger returns how long a live subscription waits after a write.
func (s *Server) linger() time.Duration {
	d := min(time.Duration(s.subscribers.Load())*lingerPerSubscriber, maxLinger)
	if d < minLinger {
		return 0
	}
	return d
}

// deliver adds one delivery to the batch.
func (ew *eventWriter) deliver(d eventstore.Delivery) error {
	switch {
	case d.Event != nil:
		f := ew.s.frames.frame(d.Event)
		pinned := false
		if f.json == nil {
			switch placed, room := ew.place(); {
			case !placed:
				// A large frame of the live buffer, shared with every
				// other subscriber: one more kept alive by a slow
				// client's write is counted, and past the bound it is
				// read from the store instead.
				if !ew.s.frames.pin(f) {
					return fromStore{}
				}
				pinned = true
			case int64(f.copied) > room:
				// Read from the store under a place that counts the page
				// it shares, but not a copy this large.
				return needsRoom(f.copied)
			}
		}
		ew.lastID = d.Event.Position
		if ew.stream {
			ew.lastID = d.Event.Version
		}
		b := ew.buffer()
		*b = append(*b, "id: "...)
		*b = strconv.AppendInt(*b, ew.lastID, 10)
		*b = append(*b, "\ndata: "...)
		if f.json != nil {
			*b = append(*b, f.json...)
		} else {
			ew.refs = append(ew.refs, frameRef{at: len(*b), frame: f, pinned: pinned})
			ew.refBytes += f.size
		}
		*b = append(*b, "\n\n"...)
	case d.CaughtUp:
		ew.live = true
		n := d.Position
		if ew.stream {
			n = d.Version
		} else {
			// Every matching event up to here has been sent: a filter
			// that skipped some still moves Last-Event-ID past them.
			ew.progress = max(ew.progress, d.Position)
		}
		b := ew.buffer()
		*b = append(*b, "event: caught-up\ndata: "...)
		*b = strconv.AppendInt(*b, n, 10)
		*b = append(*b, "\n\n"...)
	default:
		ew.progress = d.Position // written at heartbeat time only
	}
	if ew.batch != nil && len(*ew.batch)+ew.refBytes >= maxBatchBytes {
		// A long page of history goes out in parts. The guard covers the
		// write alone, not the reads of the store until the next part.
		ew.write()
		ew.unguard()
	}
	return ew.err
}

// heartbeat writes a keep-alive comment and flushes.
func (ew *eventWriter) heartbeat() error {
	b := ew.buffer()
	// A filter may skip many events; an id-only frame moves the client's
	// Last-Event-ID past them, so a resume does not rescan.
	if !ew.stream && ew.progress > ew.lastID {
		ew.lastID = ew.progress
		*b = append(*b, "id: "...)
		*b = strconv.AppendInt(*b, ew.lastID, 10)
		*b = append(*b, "\n\n"...)
	}
	*b = append(*b, ": keep-alive\n\n"...)
	return ew.flush()
}

// batchPool holds the buffers batches are gathered in: a subscription holds
// one only while it writes, so a thousand idle subscribers hold none.
var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxBatchBytes is where a batch is handed to net/http before it is done.
const maxBatchBytes = 32 << 10

// buffer returns the batch being gathered, taking one from the pool if need be.
func (ew *eventWriter) buffer() *[]byte {
	if ew.batch == nil {
		ew.batch = batchPool.Get().(*[]byte)
	}
	return ew.batch
}

// write hands the batch to net/http's response buffer, or after detach
// writes it to the connection as one chunk, under the guard. A write that is
// first one attempt that does not wait (try) is put under the guard only if
// the client's socket does not take it whole (writeChunk): most live writes
// then set no deadline and no timer (7 % of the server's CPU in a profile
// with a thousand subscribers).
func (ew *eventWriter) write() {
	if !ew.guarded && (ew.try == nil || !ew.guard.disarmed()) {
		ew.guard.begin()
		ew.guarded = true
		ew.guardPlace()
	}
	if b := ew.batch; b != nil {
		if ew.err == nil && len(*b) > 0 {
			// The batch's own bytes, with its large frames' pieces in place.
			ew.pieces = ew.pieces[:0]
			at := 0
			for _, r := range ew.refs {
				ew.pieces = append(ew.pieces, (*b)[at:r.at])
				ew.pieces = append(ew.pieces, r.frame.parts...)
				at = r.at
			}
			ew.pieces = append(ew.pieces, (*b)[at:])
			if ew.conn != nil {
				ew.err = ew.writeChunk(ew.pieces, len(*b)+ew.refBytes)
			} else {
				ew.unflushed = true
				for _, p := range ew.pieces {
					if _, ew.err = ew.w.Write(p); ew.err != nil {
						break
					}
				}
			}
		}
		ew.release()
	}
}

// release lets the batch go, written or not: its buffer back to the pool,
// its large frames unpinned, and no reference to them kept.
func (ew *eventWriter) release() {
	b := ew.batch
	if b == nil {
		return
	}
	for _, r := range ew.refs {
		if r.pinned {
			ew.s.frames.unpin(r.frame)
		}
	}
	clear(ew.refs)
	clear(ew.pieces)
	clear(ew.vec)
	ew.refs, ew.refBytes, ew.pieces, ew.vec = ew.refs[:0], 0, ew.pieces[:0], ew.vec[:0]
	*b = (*b)[:0]
	if cap(*b) <= maxBatchBytes*2 {
		batchPool.Put(b)
	}
	ew.batch = nil
}

// place reports whether what the subscription delivers now was read from
// the store under its place in the catch-up budget, and how large a copy of
// an event that place has room for (fanout's Place); otherwise it comes from
// the live buffer.
func (ew *eventWriter) place() (bool, int64) {
	if p, ok := ew.sub.(interface{ Place() (bool, int64) }); ok {
		return p.Place()
	}
	return false, 0
}

// guardPlace tells the guard, over a write of what was read under a place in
// the catch-up budget, when others wait for one (stallGuard.underPlace).
func (ew *eventWriter) guardPlace() {
	if c, ok := ew.sub.(interface{ Contended() bool }); ok && ew.placed() {
		ew.guard.underPlace(c.Contended)
	}
}

// placed reports whether the subscription holds its place in the catch-up
// budget: what it wrote last came from the store.
func (ew *eventWriter) placed() bool {
	p, _ := ew.place()
	return p
}

// fromStore is deliver's refusal of a large frame of the live buffer when
// live writes already keep as many alive as they may (frameCache.pin): the
// live feed then reads that event, and those after it, from the store, in
// the subscription's turn in the catch-up budget (fanout: FromStore).
type fromStore struct{}

func (fromStore) Error() string   { return "too many large frames held by live writes" }
func (fromStore) FromStore() bool { return true }

// needsRoom is deliver's refusal of an event read from the store whose frame
// is a copy larger than the subscription's place has room for (an event not
// on one line): the live feed reads it again under a place with that room
// (fanout: Room).
type needsRoom int

func (n needsRoom) Error() string { return "a frame's copy needs room in the catch-up budget" }
func (n needsRoom) Room() int64   { return int64(n) }

// deliver1 makes try's one attempt holding one of the deliveries, which a
// panic in it gives back too: a token lost would stall every live
// subscriber.
func (ew *eventWriter) deliver1(bufs net.Buffers) (int, error) {
	ew.s.deliveries <- struct{}{}
	defer func() { <-ew.s.deliveries }()
	return ew.try(bufs)
}

// writeChunk writes pieces, size bytes in all, to the connection: as one
// HTTP/1.1 chunk (size line, data, CRLF) in one system call, or as they are
// for HTTP/1.0, whose body ends when the connection closes.
func (ew *eventWriter) writeChunk(pieces [][]byte, size int) error {
	// The size line and the vector live in ew: a write allocates nothing
	// once they have grown.
	bufs, framing := &ew.bufs, 0
	ew.vec = ew.vec[:0]
	if ew.chunked {
		line := append(strconv.AppendInt(ew.size[:0], int64(size), 16), "\r\n"...)
		ew.vec, framing = append(ew.vec, line), len(line)
	}
	ew.vec = append(ew.vec, pieces...)
	if ew.chunked {
		ew.vec = append(ew.vec, crlf)
	}
	*bufs = ew.vec
	var n int64
	if ew.try != nil {
		// One attempt that never waits for the client, in a turn (step): the
		// step's own, or one taken for it; and one of the few deliveries at
		// a time. What does not fit in the socket is written below, outside
		// any turn.
		held := ew.turn
		ew.takeTurn()
		m, err := ew.deliver1(*bufs)
		n = int64(m)
		skip(bufs, m)
		if !held || len(*bufs) > 0 {
			ew.endTurn()
		}
		if err != nil {
			return err
		}
	}
	var err error
	if len(*bufs) > 0 {
		if !ew.guarded {
			ew.guard.beginLate()
			ew.guarded = true
			ew.guardPlace()
		}
		var m int64
		m, err = bufs.WriteTo(writable(ew.conn)) // one writev, not a write a piece
		n += m
	}
	ew.sent += min(max(int(n)-framing, 0), size) // the body's bytes, as net/http counts them
	*bufs = nil
	return err
}

// skip drops the first n bytes of bufs.
func skip(bufs *net.Buffers, n int) {
	for len(*bufs) > 0 && n >= len((*bufs)[0]) {
		n -= len((*bufs)[0])
		*bufs = (*bufs)[1:]
	}
	if len(*bufs) > 0 {
		(*bufs)[0] = (*bufs)[0][n:]
	}
}

var crlf = []byte("\r\n")

// flush writes the batch and sends everything written since the last flush.
func (ew *eventWriter) flush() error {
	ew.write()
	if ew.err == nil && ew.rc != nil {
		ew.err = ew.rc.Flush()
		ew.unflushed = false
	}
	ew.unguard()
	return ew.err
}

// unguard ends the guard over the writes, if they are under it.
func (ew *eventWriter) unguard() {
	if ew.guarded {
		ew.guard.end()
		ew.guarded = false
	}
}

// finish ends the response cleanly: it first stops the shutdown callback
// from cutting the writes (the last frames and the closing chunk), then
// flushes; a client that takes nothing of them is cut after closingStall.
// Before detach, net/http writes the closing chunk when the handler returns;
// after, finish writes it.
func (ew *eventWriter) finish() {
	ew.end()
	ew.guard.ending()
	if ew.flush() == nil && ew.conn != nil && ew.chunked {
		ew.guard.begin()
		_, err := ew.conn.Write(lastChunk)
		ew.guard.end()
		ew.err = err
	}
}

// lastChunk ends a chunked body.
var lastChunk = []byte("0\r\n\r\n")

// end marks the response as ending.
func (ew *eventWriter) end() {
	ew.mu.Lock()
	ew.ended = true
	ew.mu.Unlock()
}

// cut ends a pending write now, unless the response is ending. While it
// opens, it gives the headers and the first frame closingStall to go out
// instead: the response then ends cleanly (run), rather than leave the
// client with a broken connection and no status.
func (ew *eventWriter) cut() {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	switch {
	case ew.ended:
	case ew.opening:
		ew.guard.hurry()
	default:
		ew.guard.stop()
	}
}

// cutRevoked ends a pending write now, and every later one but those of
// the response's end, unless the response is ending: the subscription's
// token was removed (Access.Replace). While it opens, it only hurries the
// headers and the first frame, as cut does.
func (ew *eventWriter) cutRevoked() {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	switch {
	case ew.ended:
	case ew.opening:
		ew.guard.hurry()
	default:
		ew.guard.revoke()
	}
}

// frameCache keeps the one-line JSON of recent events: the live feed hands
// the same event to every subscriber, and encoding it once instead of once
// per subscriber is a large share of what a thousand subscribers cost. Slots
// are indexed by position and checked by id, so a stale slot is never used.
// Frames over maxCachedFrame are kept too (a live event is asked for by
// every subscriber at once), but only the latest of them, up to
// largeFramesBytes in all, and those live writes hold pinned: otherwise the 4,096 slots would hold 4 GiB of
// events of 1 MiB, for good, after one subscriber read a log of them.
//
// A large frame is not one copy of its event: its head and tail are its own,
// its data and metadata are the event's (a copy only where they had to be
// put on one line), and a subscription's batch holds it by reference
// (frameRef). A thousand subscribers whose writes of a live event of 1 MiB
// wait on their clients then hold that megabyte once, not each their own
// copy of it (a gigabyte). What live writes keep alive of large frames is
// bounded too, all together (pin).
type frameCache struct {
	slots [4096]atomic.Pointer[cachedEvent]

	mu         sync.Mutex
	large      []largeFrame // the large frames kept, oldest first
	largeBytes int          // their size
	pinned     int          // the size of the large frames pinned
	pinLimit   int          // the most pinned at once; 0: pinnedFramesBytes
}

type cachedEvent struct {
	position int64
	id       uuid.UUID
	json     []byte   // the frame, if at most maxCachedFrame
	parts    [][]byte // a larger frame: head, data, metadata and tail
	size     int      // the frame's length
	copied   int      // of a larger frame: the length of its copies of data or metadata of sharedData or more
	pins     int      // under frameCache.mu
	// let go: the cache let it go while writes held it pinned; it stays
	// in its slot until its last unpin (under frameCache.mu).
	letGo bool
}

// frameRef is a large frame in a subscription's batch, at an offset of its
// own bytes, and whether it was pinned.
type frameRef struct {
	at     int
	frame  *cachedEvent
	pinned bool
}

// largeFrame is a large frame and the slot it was put in.
type largeFrame struct {
	slot  *atomic.Pointer[cachedEvent]
	frame *cachedEvent
}

// The frames of a few KiB (most events) are kept in their slot until another
// position takes it: 32 MiB at most. Larger ones are let go, oldest first,
// past largeFramesBytes.
const (
	maxCachedFrame   = 8 << 10
	largeFramesBytes = 16 << 20
)

// pinnedFramesBytes bounds the large frames of live events that
// subscriptions' batches hold, all together (each frame counted once,
// however many hold it): as much as the live buffer holds by default
// (fanout.DefaultBufferBytes). A batch past it leaves the event to be read
// from the store, under the catch-up budget.
const pinnedFramesBytes = 64 << 20

// slot returns the slot of position p.
func (c *frameCache) slot(p int64) *atomic.Pointer[cachedEvent] {
	return &c.slots[uint64(p)%uint64(len(c.slots))]
}

// frame returns the event's frame: its JSON on one line.
func (c *frameCache) frame(e *eventstore.Event) *cachedEvent {
	slot := c.slot(e.Position)
	old := slot.Load()
	if old != nil && old.position == e.Position && old.id == e.ID {
		return old
	}
	ce := newFrame(e)
	if !slot.CompareAndSwap(old, ce) {
		// The subscribers a commit wakes ask at once: one that encoded
		// the frame meanwhile is shared, not replaced (each would pin its own).
		if cur := slot.Load(); cur != nil && cur.position == e.Position && cur.id == e.ID {
			return cur
		}
		slot.Store(ce)
	}
	if ce.size > maxCachedFrame {
		c.keepLarge(slot, ce)
	}
	return ce
}

// metadataKey is what comes between data and metadata in a frame.
var metadataKey = []byte(`,"metadata":`)

// newFrame encodes e's frame: whole if it is small, else as pieces, in the
// order encodeEvent writes them: the head up to data, data, metadata and the
// tail. Data or metadata of sharedData or more is the event's own slice (or
// its copy on one line, copied then); the rest is copied into pieces of the
// frame's own, each allocated to its size.
func newFrame(e *eventstore.Event) *cachedEvent {
	o := oneLine(e)
	ce := &cachedEvent{position: e.Position, id: e.ID}
	// Most events are small: encoded once, into a slice of their size (of
	// a bound of it, for names or times out of the ordinary), not first as
	// a skeleton of their fields to learn their size.
	if n := frameBound(&o); n <= maxCachedFrame {
		ce.json = encodeEvent(make([]byte, 0, n), o)
		ce.size = len(ce.json)
		return ce
	}
	bare := o
	bare.Data, bare.Metadata = nil, nil
	skel := encodeEvent(make([]byte, 0, 256), bare)
	ce.size = len(skel) + len(o.Data)
	if o.Metadata != nil {
		ce.size += len(metadataKey) + len(o.Metadata)
	}
	if ce.size <= maxCachedFrame {
		ce.json = encodeEvent(make([]byte, 0, ce.size), o)
		return ce
	}
	// The names before data are JSON strings, in which `,"data":` cannot
	// appear unescaped: the first one is the member's.
	i := bytes.Index(skel, []byte(`,"data":`)) + len(`,"data":`)
	pieces := [][]byte{skel[:i], o.Data}
	if o.Metadata != nil {
		pieces = append(pieces, metadataKey, o.Metadata)
	}
	pieces = append(pieces, skel[i:])
	var own [][]byte // the pieces gathered since the last one shared
	for _, p := range pieces {
		if len(p) < sharedData {
			own = append(own, p)
			continue
		}
		if len(own) > 0 {
			ce.parts = append(ce.parts, slices.Concat(own...))
			own = own[:0]
		}
		ce.parts = append(ce.parts, p)
	}
	if len(own) > 0 {
		ce.parts = append(ce.parts, slices.Concat(own...))
	}
	for _, p := range [][]byte{o.Data, o.Metadata} {
		if len(p) >= sharedData && !sameSlice(p, e.Data) && !sameSlice(p, e.Metadata) {
			ce.copied += cap(p) // put on one line
		}
	}
	return ce
}

// frameBound returns at least the length of the frame of e (on one line):
// exactly that for valid names and years of four digits. A name that
// ValidateName refuses (the cache is given whatever a store returns) may be
// escaped, up to six bytes a byte; a year past 9999 or before 0 is written
// with up to 13 digits and a sign.
func frameBound(e *eventstore.Event) int {
	n := frameKeys + 2*len(uuidText) + len(timeFormat) + len(e.Data) +
		nameBound(e.StreamType) + nameBound(e.Type) + intLen(e.Version) + intLen(e.Position)
	if e.Metadata != nil {
		n += len(metadataKey) + len(e.Metadata)
	}
	if y := e.RecordedAt.UTC().Year(); y < 0 || y > 9999 {
		n += 16
	}
	return n
}

// frameKeys is the length of a frame's names and punctuation, metadata's
// apart: everything encodeEvent writes but the values.
const frameKeys = len(`{"id":"","stream_id":"","stream_type":,"version":,"position":,"type":,"data":,"recorded_at":""}`)

// uuidText is as long as an id in a frame (appendUUID).
const uuidText = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"

// nameBound returns at least the length of s as a JSON string.
func nameBound(s string) int {
	if eventstore.ValidateName("", s) == nil {
		return len(s) + 2
	}
	return 6*len(s) + 2
}

// intLen returns the length of v in decimal.
func intLen(v int64) int {
	var b [20]byte
	return len(strconv.AppendInt(b[:0], v, 10))
}

// sharedData is the least data or metadata a large frame shares with its
// event rather than copies: the stores read smaller values into shared
// blocks (of 32 KiB), which a frame that held one would keep alive whole.
const sharedData = 32 << 10

// sameSlice reports whether a and b are the same bytes in memory.
func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// keepLarge counts a large frame just put in slot, and lets the oldest go
// while those kept are more than largeFramesBytes (the latest is kept,
// however large). One that writes hold pinned stays in its slot until its
// last unpin: it is alive anyway, and a subscriber that comes to its event
// later must find it, not encode and pin a second frame of the same event.
func (c *frameCache) keepLarge(slot *atomic.Pointer[cachedEvent], ce *cachedEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.large = append(c.large, largeFrame{slot, ce})
	c.largeBytes += ce.size
	for c.largeBytes > largeFramesBytes && len(c.large) > 1 {
		old := c.large[0]
		c.large[0] = largeFrame{}
		c.large = c.large[1:]
		c.largeBytes -= old.frame.size
		if old.frame.pins > 0 {
			old.frame.letGo = true // unpin empties the slot
			continue
		}
		old.slot.CompareAndSwap(old.frame, nil) // unless another frame took the slot
	}
}

// pin counts a large frame of the live buffer that a subscription's batch
// is about to hold until it is written, and reports true; or reports false,
// counting nothing, when the large frames live writes hold would pass the
// bound with it (pinLimit, pinnedFramesBytes; one frame is always let
// through). Every subscription that holds it shares it: a frame is counted
// once, from the first pin to the last unpin. A client that stalls holds its
// write's frames until it is cut; without the bound, thousands of them,
// each stalled on another large event, held one each.
func (c *frameCache) pin(ce *cachedEvent) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ce.pins == 0 {
		limit := c.pinLimit
		if limit == 0 {
			limit = pinnedFramesBytes
		}
		if c.pinned > 0 && c.pinned+ce.size > limit {
			return false
		}
		c.pinned += ce.size
	}
	ce.pins++
	return true
}

// unpin undoes one pin. The last one of a frame the cache has let go
// takes it out of its slot.
func (c *frameCache) unpin(ce *cachedEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ce.pins--; ce.pins == 0 {
		c.pinned -= ce.size
		if ce.letGo {
			c.slot(ce.position).CompareAndSwap(ce, nil) // unless another frame took the slot
		}
	}
}

// pinnedBytes reports the size of the large frames pinned now.
func (c *frameCache) pinnedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pinned
}

// oneLine returns e with data and metadata on one line, as an SSE data field
// needs: JSON whitespace holding a line break is removed. Other events are
// returned as they are, byte for byte.
func oneLine(e *eventstore.Event) eventstore.Event {
	c := *e
	c.Data = compactIfMultiline(c.Data)
	c.Metadata = compactIfMultiline(c.Metadata)
	return c
}

func compactIfMultiline(b []byte) []byte {
	if !bytes.ContainsAny(b, "\r\n") {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b)) // no more than that: compacting only takes away
	if err := json.Compact(&out, b); err != nil {
		return b // stored data is valid JSON; keep it if not
	}
	return out.Bytes()
}

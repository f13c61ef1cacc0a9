package http

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// MinPositionHeader asks a read to wait until the store's reads see a
// position: the position an append answered, so that a client reads its own
// write when reads are served by a replica that applies appends a little
// late.
const MinPositionHeader = "Tributary-Min-Position"

// maxMinPositionWait bounds the wait for a Tributary-Min-Position, within the
// request's own timeout; past it the answer is 503 with Retry-After.
const maxMinPositionWait = 5 * time.Second

// Replica reports how far the store's read replica is behind its primary,
// and what the primary itself has of a stream.
type Replica interface {
	ReplicaLag(ctx context.Context) (eventstore.ReplicaLag, error)
	// PrimaryStreamVersion is the stream's version on the primary, 0 where
	// the primary has no such stream.
	PrimaryStreamVersion(ctx context.Context, id uuid.UUID) (int64, error)
	// HasPosition says, for a read that waited until the replica's head
	// reached position, whether the replica holds the events up to it (the
	// one there and those just below it): nil where it does (or where the
	// primary has none of those it lacks either), an error where it lost
	// one (the primary has it) or cannot tell.
	HasPosition(ctx context.Context, position int64) error
}

// minPosition reads a read's Tributary-Min-Position header, a 400 if it is
// malformed, for the handler to wait for (awaitMinPosition): the wait
// comes after the read's own checks, so that a bad read is a 400 whatever
// position it asks for, and after a subscription's caps, so that one
// refused for them neither waits nor reads the head.
func (s *Server) minPosition(next http.Handler) http.Handler {
	return s.adapt(func(w http.ResponseWriter, r *http.Request) error {
		raw, ok := r.Header[http.CanonicalHeaderKey(MinPositionHeader)]
		if !ok {
			next.ServeHTTP(w, r)
			return nil
		}
		if len(raw) != 1 {
			return badRequest("header %s is given %d times; give it once, one whole number ≥ 0 (a position an append answered)", MinPositionHeader, len(raw))
		}
		want, refused := parseNumber(raw[0])
		switch refused {
		case notDigits:
			return badRequest("header %s must be one whole number ≥ 0 (a position an append answered), got %q", MinPositionHeader, raw[0])
		case leadingZero:
			return badRequest("header %s must be written without leading zeros, as an append answers the position, got %q", MinPositionHeader, raw[0])
		case outOfRange:
			return badRequest("header %s is out of range: it must be at most %d (a position an append answered), got %q", MinPositionHeader, int64(1<<63-1), raw[0])
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), minPositionKey{}, want)))
		return nil
	})
}

// minPositionKey is the context key of a read's Tributary-Min-Position.
type minPositionKey struct{}

// awaitMinPosition waits until the store's head, as its reads see it, has
// reached the request's Tributary-Min-Position (minPosition), if it has
// one. A read calls it once it has passed its own checks, before it reads
// the store.
func (s *Server) awaitMinPosition(r *http.Request) error {
	want, ok := r.Context().Value(minPositionKey{}).(int64)
	if !ok {
		return nil
	}
	return s.waitForPosition(r.Context(), want, MinPositionHeader+" "+strconv.FormatInt(want, 10))
}

// awaitPageMinPosition is awaitMinPosition for a page read (a
// subscription's start ends at shutdown its own way: starting): its wait
// also ends when the server begins to close (CloseSubscriptions). On the
// request's context alone, a shutdown waited it out, holding the drain up
// to maxMinPositionWait, and the client was then told to try again
// shortly by a server going away. It is a 503 with Retry-After at once,
// saying so, logged as a shutdown's, not as a fault.
func (s *Server) awaitPageMinPosition(r *http.Request) error {
	want, ok := r.Context().Value(minPositionKey{}).(int64)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.closingCtx, cancel)()
	err := s.awaitMinPosition(r.WithContext(ctx))
	if err != nil && ctx.Err() != nil && r.Context().Err() == nil && s.closingCtx.Err() != nil {
		return &detailError{kind: errStopping, detail: fmt.Sprintf(
			"the server is shutting down, and this read was still waiting for its %s %d (its read replica lags): send it again, to another instance",
			MinPositionHeader, want)}
	}
	return err
}

// waitForPosition polls the store's head until it reaches want, for at most
// maxMinPositionWait. Where reads see every acknowledged append at once (no
// read replica, not a Galera cluster: Options.ReadsMayLag) it does not wait:
// a position past the head is refused at once (aheadError). asked is how
// the client gave want, for the answers' details.
func (s *Server) waitForPosition(ctx context.Context, want int64, asked string) error {
	ctx, cancel := context.WithTimeout(ctx, maxMinPositionWait)
	defer cancel()
	// prev is the head at the previous poll, at polled (at first, when the
	// wait began).
	head, prev, polled := int64(0), int64(-1), time.Now()
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		var err error
		now := time.Now()
		if head, err = s.store.Head(ctx); err == nil && head >= want {
			return s.holdsPosition(ctx, want)
		} else if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil && s.opts.Replica == nil && !s.opts.ReadsMayLag {
			// Reads see every acknowledged append at once: no append
			// answered want on this database, and none will soon.
			return s.aheadOfSoundLog(ctx, &aheadError{requested: want, current: head, detail: fmt.Sprintf(
				"%s is past the log's head (%d): no append answered that position on this database; it may come from another or a restored one",
				asked, head)})
		}
		if err == nil && s.opts.Replica != nil && (prev < 0 || head == prev) {
			// Behind a replica, at the first poll and at each that finds
			// it stalled: a position past the primary's head as well will
			// not come, nor any while the replica's applier is stopped on
			// an error, which it may stop on while this request waits.
			if stop := s.willNotCome(ctx, want, asked, polled); stop != nil {
				return stop
			}
		}
		if err == nil {
			prev, polled = head, now
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return &detailError{kind: eventstore.ErrUnavailable, detail: fmt.Sprintf(
				"position %d is not readable here yet (reads see up to %d; a read replica may be lagging): try again shortly", want, head)}
		case <-t.C:
		}
	}
}

// willNotCome returns an aheadError when want is past the primary's head
// too, not only the replica's: no append answered it on this database (it
// comes from another or a restored one), waiting cannot bring it, and a
// 503 would have a client retry for ever. The replica's head is read after
// its lag, which reads the replica's head before the primary's: the sum is
// never below the primary's head when the lag was read, and want, which a
// client was answered before this request, is not past that unless the
// primary never had it. Where either cannot be read, or the primary is a
// Galera node, which may lack another node's commit for a moment, nil: the
// wait goes on. A replica whose applier has stopped on an error will not
// reach want either until someone repairs it: that is a 503 at once
// (applierFailed), where waiting out the bound would only hold the client.
// The wait asks at its first poll and at each that finds the replica's
// head where it was, so that an applier that stops meanwhile ends it too;
// the lag is one read since then (replicaLag): at first, since the wait
// began.
func (s *Server) willNotCome(ctx context.Context, want int64, asked string, since time.Time) error {
	lag, err := s.replicaLag(ctx, since)
	if err != nil {
		return nil
	}
	head, err := s.store.Head(ctx)
	switch {
	case err != nil || head >= want:
		return nil // the next poll serves it
	case !lag.PrimaryMayLag && head+lag.Positions < want:
		return s.aheadOfSoundLog(ctx, &aheadError{requested: want, current: head + lag.Positions, detail: fmt.Sprintf(
			"%s is past the log's head on the primary (%d), not only on this server's read replica: no append answered that position on this database; it may come from another or a restored one",
			asked, head+lag.Positions)})
	case lag.ApplierFailed:
		return applierFailed(fmt.Sprintf("position %d", want), fmt.Sprint(head), lag.IOErrno)
	}
	return nil
}

// applierFailed is the answer to a read waiting for what a read replica
// that has stopped on an error (ReplicaLag.ApplierFailed) lacks:
// unavailable, as any wait for the replica that ends short, but at once.
// The detail names neither the applier's error nor its statement, which
// may quote data; where the receiver (the IO thread) stopped, ioErrno, its
// error number, only: its message names the primary's user and host.
func applierFailed(what, has string, ioErrno int) error {
	stopped := "its applier has stopped on an error"
	if ioErrno != 0 {
		stopped = fmt.Sprintf("its IO thread, which receives the primary's binary log, has stopped on error %d", ioErrno)
	}
	return &detailError{kind: eventstore.ErrUnavailable, detail: fmt.Sprintf(
		"%s is not readable here: this server's read replica lacks it, and %s, so it will not have it until someone repairs it (reads see up to %s); try again later or on another instance",
		what, stopped, has)}
}

// aheadOfSoundLog returns ahead, a starting point past the log's head,
// unless the store is damaged (Ping: eventstore.ErrDamaged), then that
// damage, a 503 naming it. A head behind its events (ErrHeadBehind:
// log_head edited by hand, tables restored from dumps taken apart) looks
// from the head alone like a start ahead: the last event a client got is
// stored, past the head, and the 409 told it its id came from another
// database and to start again from after=0, on which an EventSource stops
// for good and a client that follows it reads the whole log again. Only
// starts past the head ask: they are rare, and the answer is a few reads,
// within the request timeout (a Ping that fails otherwise leaves the 409).
func (s *Server) aheadOfSoundLog(ctx context.Context, ahead *aheadError) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); errors.Is(err, eventstore.ErrDamaged) {
		return err
	}
	return ahead
}

// A subscription's starting point past what this server's reads see is
// refused (aheadError) where reads see every acknowledged append at once.
// Behind a read replica it may be an append the primary answered a moment
// ago: an EventSource that reconnects, with the Last-Event-ID another
// instance gave it, to an instance whose replica lags. A 409 there would
// stop it for ever (an EventSource gives up on any status but 200), and so
// would a 503; so the subscription waits, bounded as a
// Tributary-Min-Position does (and by the request timeout), for the replica
// to reach its starting point, and starts. A point past the primary's head
// too is still a 409, at once; one the replica does not reach in time, a
// 503 with Retry-After.

// awaitLogStart waits, behind a read replica or where reads may lag (a
// Galera node), until the reads' head reaches after, a subscription's
// starting point past it. It returns ahead at once where reads see every
// acknowledged append.
func (s *Server) awaitLogStart(ctx context.Context, after int64, asked string, ahead *aheadError) error {
	if s.opts.Replica == nil && !s.opts.ReadsMayLag {
		return s.aheadOfSoundLog(ctx, ahead)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	return s.waitForPosition(ctx, after, asked)
}

// awaitStreamStart waits, behind a read replica or where reads may lag (a
// Galera node), until the reads have stream id at version seen, a
// subscription's starting point past the stream's version there. It
// returns ahead at once where reads see every acknowledged append, and
// once the replica has every append the primary had when this request
// asked (its head at the primary's, read after the request began) and the
// stream still lacks seen: no append answered it on this database; not
// where the primary has seen (read as it began): a replica that lost it,
// or one it got since, is waited for to the end, then 503. Where
// the primary is a Galera node, which may lack another node's commit, the
// wait goes on to its end instead. Behind a replica whose applier has
// stopped on an error it is a 503 at once (applierFailed). A version past
// the primary's own (a primary that is no Galera node) is refused at once,
// as where reads see every append: no append answered it on this database,
// and a 503 would have a client retry for ever. asked is how the client
// gave seen, for the answer's detail.
func (s *Server) awaitStreamStart(ctx context.Context, id uuid.UUID, seen int64, asked string, ahead *aheadError) error {
	if s.opts.Replica == nil && !s.opts.ReadsMayLag {
		return ahead
	}
	ctx, cancel := context.WithTimeout(ctx, min(s.opts.RequestTimeout, maxMinPositionWait))
	defer cancel()
	lag := eventstore.ReplicaLag{PrimaryMayLag: true} // a Galera node without a replica: no head to stop at
	polled := time.Now()
	if s.opts.Replica != nil {
		var err error
		if lag, err = s.replicaLag(ctx, polled); err != nil {
			return err
		}
	}
	primaryHas := false // the primary has version seen: never ahead, whatever the replica lacks
	if !lag.PrimaryMayLag {
		// Where it cannot be read, the wait below still ends at the
		// primary's head.
		v, err := s.opts.Replica.PrimaryStreamVersion(ctx, id)
		primaryHas = err == nil && seen <= v
		if err == nil && seen > v {
			return &aheadError{requested: ahead.requested, current: v, detail: fmt.Sprintf(
				"%s starts after version %d, but stream %s is at version %d on the primary, not only on this server's read replica: no append answered that version on this database. "+
					"The starting point may come from another or a restored database; %s.",
				asked, seen, id, v, subscribeAgain(v))}
		}
	}
	version, prev := int64(0), int64(-1) // prev: the head at the previous poll, at polled
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 250*time.Millisecond) {
		// The head before the stream: a head at the primary's means the
		// stream read after it has every version the primary had then.
		now := time.Now()
		head, err := s.store.Head(ctx)
		if err == nil && s.opts.Replica != nil && head == prev {
			// A replica found stalled is looked at again: its applier
			// may have stopped on an error while this request waits. The
			// primary's head stays the one read as the request began.
			if again, err := s.replicaLag(ctx, polled); err == nil {
				lag.ApplierFailed, lag.IOErrno = again.ApplierFailed, again.IOErrno
			}
		}
		if err == nil {
			prev, polled = head, now
			// In a turn among the subscriptions' reads of history
			// (streamInTurn), as the read before this wait: a crowd of
			// EventSources resuming on a lagging node read their streams
			// each poll, and took every connection of the read pool.
			var st eventstore.Stream
			st, err = s.streamInTurn(ctx, id)
			if errors.Is(err, eventstore.ErrStreamNotFound) {
				err = nil
			}
			version = st.Version
			switch {
			case err == nil && seen <= version:
				return nil
			case err == nil && head >= lag.PrimaryHead && !lag.PrimaryMayLag && !primaryHas:
				// Not where the primary has version seen: a replica at
				// its head lacking it (appended since, or lost by the
				// replica: a transaction skipped on it) is waited for,
				// then 503; a 409 said no append answered it.
				return ahead
			case err == nil && lag.ApplierFailed:
				return applierFailed(fmt.Sprintf("version %d of stream %s", seen, id), fmt.Sprintf("version %d", version), lag.IOErrno)
			}
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return &detailError{kind: eventstore.ErrUnavailable, detail: fmt.Sprintf(
				"version %d of stream %s is not readable here yet (reads see up to version %d; a read replica may be lagging): try again shortly", seen, id, version)}
		case <-t.C:
		}
	}
}

// lagRead is one read of the read replica's lag (Replica.ReplicaLag).
type lagRead struct {
	began time.Time
	done  chan struct{} // closed once lag and err are set
	lag   eventstore.ReplicaLag
	err   error
	// waiters are the requests waiting for it, by Server.lag's lock; the
	// last to leave before it is done cancels it (cancel).
	waiters int
	cancel  context.CancelFunc
}

// replicaLag returns the read replica's lag as a read that began at since
// or after it found it: the last read, if it did (waiting for it while it
// is under way), else a new one. The requests waiting for the replica share
// it: the full lag is about five statements, three of them on the
// primary's small pool, and a crowd of EventSources reconnecting to an
// instance whose replica stalls would read it once a poll each; shared, it
// is read about once a poll in all. The read is bounded by the request
// timeout, not by the context of the request that began it, so that one
// request giving up does not fail the others; each stops waiting for it
// when its own context ends, and the last to leave cancels it: a read
// no one waits for held its sessions (on a replica or primary that does
// not answer) to the request timeout, and the next request must not join
// a read cancelled.
func (s *Server) replicaLag(ctx context.Context, since time.Time) (eventstore.ReplicaLag, error) {
	s.lag.Lock()
	r := s.lag.last
	if r == nil || r.began.Before(since) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.RequestTimeout)
		r = &lagRead{began: time.Now(), done: make(chan struct{}), cancel: cancel}
		s.lag.last = r
		go func() {
			defer close(r.done)
			defer cancel()
			r.lag, r.err = s.opts.Replica.ReplicaLag(rctx)
		}()
	}
	r.waiters++
	s.lag.Unlock()
	select {
	case <-r.done:
		s.lag.Lock()
		r.waiters--
		s.lag.Unlock()
		return r.lag, r.err
	case <-ctx.Done():
		s.lag.Lock()
		defer s.lag.Unlock()
		if r.waiters--; r.waiters == 0 {
			select {
			case <-r.done:
			default:
				r.cancel()
				if s.lag.last == r {
					s.lag.last = nil
				}
			}
		}
		return eventstore.ReplicaLag{}, ctx.Err()
	}
}

// holdsPosition is waitForPosition's last look, behind a read replica: its
// head past want said nothing of whether want itself, or the events just
// below it, are there, and a replica that lost one (a transaction skipped
// on it) answered the read 200 without it.
func (s *Server) holdsPosition(ctx context.Context, want int64) error {
	if want <= 0 || s.opts.Replica == nil { // a Galera node's reads: no replica
		return nil
	}
	return s.opts.Replica.HasPosition(ctx, want)
}

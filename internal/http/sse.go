package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
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
// (fanout.Feed is one).
type Feed interface {
	Subscribe(opts eventstore.SubscribeOptions) eventstore.Subscription
}

// retryMillis is what the first frame tells EventSource to wait before it
// reconnects.
const retryMillis = 2000

// wantsEvents reports whether the client asks for a subscription.
func wantsEvents(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Accept")), "text/event-stream")
}

// lastEventID reads the Last-Event-ID header an EventSource sends when it
// reconnects: a version for a stream, a position for the log.
func lastEventID(r *http.Request) (int64, bool, error) {
	vals := r.Header.Values("Last-Event-ID")
	if len(vals) == 0 || (len(vals) == 1 && vals[0] == "") {
		return 0, false, nil
	}
	v := trimHTTPSpace(vals[0])
	n, err := strconv.ParseInt(v, 10, 64)
	if len(vals) > 1 || !isDigits(v) || err != nil {
		return 0, false, badRequest("Last-Event-ID must be a whole number ≥ 0 (the id of the last event received), got %q", vals[0])
	}
	return n, true, nil
}

// subscribeStream serves GET /streams/{id}/events as server-sent events.
func (s *Server) subscribeStream(w http.ResponseWriter, r *http.Request, id uuid.UUID) error {
	q, err := query(r, streamParams...)
	if err != nil {
		return err
	}
	if d := q.Get("direction"); d != "" && d != "forward" {
		return badRequest("a subscription reads forward; direction=%q is only for pages", d)
	}
	from, err := intParam(q, "from", 1, 1, 1<<63-1)
	if err != nil {
		return err
	}
	opts := eventstore.SubscribeOptions{StreamID: id, FromVersion: from}
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
	if seen > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		st, err := s.store.Stream(ctx, id)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return err
		}
		if seen > st.Version {
			return &aheadError{requested: requested, current: st.Version,
				detail: fmt.Sprintf("%s starts after version %d, but stream %s is at version %d: this server has never reached that point. "+
					"The id may come from another or a restored database; subscribe again from a version the stream has (from=1 for all of it).",
					asked, seen, id, st.Version)}
		}
	}
	return s.serveEvents(w, r, opts, true)
}

// subscribeLog serves GET /events as server-sent events.
func (s *Server) subscribeLog(w http.ResponseWriter, r *http.Request, opts eventstore.ReadAllOptions) error {
	sub := eventstore.SubscribeOptions{After: opts.After, StreamTypes: opts.StreamTypes, EventTypes: opts.EventTypes}
	asked := "after=" + strconv.FormatInt(opts.After, 10)
	if last, ok, err := lastEventID(r); err != nil {
		return err
	} else if ok {
		sub.After, asked = last, "Last-Event-ID "+strconv.FormatInt(last, 10)
	}
	if sub.After > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.opts.RequestTimeout)
		defer cancel()
		head, err := s.store.Head(ctx)
		if err != nil {
			return err
		}
		if sub.After > head {
			return &aheadError{requested: sub.After, current: head,
				detail: fmt.Sprintf("%s is past the end of the log, whose last position is %d: this server has never reached that point. "+
					"The id may come from another or a restored database; subscribe again from a position the log has (after=0 for all of it).",
					asked, head)}
		}
	}
	return s.serveEvents(w, r, sub, false)
}

// serveEvents writes a subscription as a text/event-stream: retry first, then
// history, one caught-up event, and live events with keep-alive comments, until
// the client leaves or the server shuts down. Frame ids are versions for a
// stream and positions for the log, so EventSource resumes where it stopped.
//
// The subscription runs on this goroutine: each turn writes everything the
// feed has ready straight into net/http's response buffer and flushes it
// once, then waits for more. An idle subscription holds no goroutine or
// buffer beyond net/http's own.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, opts eventstore.SubscribeOptions, stream bool) error {
	if s.opts.Feed == nil {
		return eventstore.ErrUnavailable
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies such as nginx not to buffer
	if r.Method == http.MethodHead {
		return nil
	}
	if n := s.subscribers.Add(1); n > int64(s.opts.MaxSubscribers) {
		s.subscribers.Add(-1)
		return &detailError{kind: errTooManySubscribers,
			detail: fmt.Sprintf("this server already serves %d subscriptions, the most it takes; try again shortly or another instance", s.opts.MaxSubscribers)}
	}
	defer s.subscribers.Add(-1)
	endpoint := "log"
	if stream {
		endpoint = "stream"
	}
	s.opts.Metrics.Subscribed(endpoint, 1)
	defer s.opts.Metrics.Subscribed(endpoint, -1)
	ctx := r.Context()
	sub := s.opts.Feed.Subscribe(opts)
	defer sub.Close()

	// Every batch of writes and its flush is guarded: a client that takes
	// no bytes for the stall timeout is cut off (it resumes with
	// Last-Event-ID), rather than hold a goroutine and its buffers for ever.
	// A slow reader is not cut while it takes bytes, and falls behind the
	// live buffer to read from the database.
	guard := newStallGuard(w, r, s.opts.StallTimeout)
	var werr error // the first failed write: the client left
	guarded := false
	write := func(b []byte) {
		if !guarded {
			guard.begin()
			guarded = true
		}
		if werr == nil {
			_, werr = w.Write(b)
		}
	}
	flush := func() error {
		if !guarded {
			guard.begin()
		}
		if werr == nil {
			werr = guard.rc.Flush()
		}
		guard.end()
		guarded = false
		return werr
	}
	// Shutdown must not wait for a write that a client is not reading:
	// when it starts, cut every subscription's pending write short.
	var mu sync.Mutex
	ended := false
	// finish ends the response cleanly: it first stops the shutdown
	// callback from cutting the writes (the last frames and net/http's
	// closing chunk), then flushes.
	finish := func() {
		mu.Lock()
		ended = true
		mu.Unlock()
		flush() //nolint:errcheck // ending anyway
	}
	defer func() {
		mu.Lock()
		ended = true
		mu.Unlock()
	}()
	stop := context.AfterFunc(s.closingCtx, func() { // no goroutine until shutdown
		mu.Lock()
		if !ended {
			guard.stop()
		}
		mu.Unlock()
	})
	defer stop()
	w.WriteHeader(http.StatusOK)
	write([]byte("retry: " + strconv.Itoa(retryMillis) + "\n\n"))
	if flush() != nil {
		return nil // the client left
	}

	heartbeat := time.NewTicker(s.opts.Heartbeat)
	defer heartbeat.Stop()
	var lastID, progress int64
	frame := make([]byte, 0, 64) // a frame's fields around the event's JSON
	emit := func(d eventstore.Delivery) error {
		switch {
		case d.Event != nil:
			lastID = d.Event.Position
			if stream {
				lastID = d.Event.Version
			}
			frame = append(frame[:0], "id: "...)
			frame = strconv.AppendInt(frame, lastID, 10)
			frame = append(frame, "\ndata: "...)
			write(frame)
			write(s.frames.json(d.Event))
			write(frameEnd)
		case d.CaughtUp:
			n := d.Position
			if stream {
				n = d.Version
			} else {
				// Every matching event up to here has been sent: a filter
				// that skipped some still moves Last-Event-ID past them.
				progress = max(progress, d.Position)
			}
			frame = append(frame[:0], "event: caught-up\ndata: "...)
			frame = strconv.AppendInt(frame, n, 10)
			write(append(frame, "\n\n"...))
		default:
			progress = d.Position // written at heartbeat time only
		}
		return werr
	}
	for {
		err := sub.Next(ctx, emit)
		if guarded && flush() != nil || werr != nil {
			return nil // the client left
		}
		if err != nil {
			if ctx.Err() == nil {
				finish() // the feed stopped: end cleanly, the client resumes elsewhere
			}
			return nil
		}
		select {
		case <-sub.Ready():
		case <-heartbeat.C:
			// A filter may skip many events; an id-only frame moves the
			// client's Last-Event-ID past them, so a resume does not rescan.
			if !stream && progress > lastID {
				lastID = progress
				frame = append(frame[:0], "id: "...)
				frame = strconv.AppendInt(frame, lastID, 10)
				write(append(frame, "\n\n"...))
			}
			write(keepAlive)
			if flush() != nil {
				return nil
			}
		case <-s.closing:
			// Shutting down: end the response cleanly; EventSource reconnects
			// with Last-Event-ID, to this instance's successor or another one.
			finish()
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

var (
	frameEnd  = []byte("\n\n")
	keepAlive = []byte(": keep-alive\n\n")
)

// frameCache keeps the one-line JSON of recent events: the live feed hands
// the same event to every subscriber, and encoding it once instead of once
// per subscriber is a large share of what a thousand subscribers cost. Slots
// are indexed by position and checked by id, so a stale slot is never used.
type frameCache struct {
	slots [4096]atomic.Pointer[cachedEvent]
}

type cachedEvent struct {
	position int64
	id       uuid.UUID
	json     []byte
}

// json returns the event as one line of JSON.
func (c *frameCache) json(e *eventstore.Event) []byte {
	slot := &c.slots[uint64(e.Position)%uint64(len(c.slots))]
	if ce := slot.Load(); ce != nil && ce.position == e.Position && ce.id == e.ID {
		return ce.json
	}
	b := encodeEvent(make([]byte, 0, 256+len(e.Data)+len(e.Metadata)), oneLine(e))
	slot.Store(&cachedEvent{position: e.Position, id: e.ID, json: b})
	return b
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
	if err := json.Compact(&out, b); err != nil {
		return b // stored data is valid JSON; keep it if not
	}
	return out.Bytes()
}

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
	sub := &eventstore.SubscribeOptions{After: opts.After, StreamTypes: opts.StreamTypes, EventTypes: opts.EventTypes}
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
// The subscription runs on this goroutine: each turn gathers everything the
// feed has ready into one pooled buffer, hands it to net/http's response
// buffer in one write and flushes once, then waits for more. An idle
// subscription holds no goroutine or buffer beyond net/http's own.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, opts *eventstore.SubscribeOptions, stream bool) error {
	ew, err := s.openEvents(w, r, opts, stream)
	if ew == nil {
		return err
	}
	defer ew.close()
	ew.run(r.Context())
	return nil
}

// openEvents starts a subscription's response, or returns a nil
// eventWriter and the error to answer with (none for HEAD).
func (s *Server) openEvents(w http.ResponseWriter, r *http.Request, opts *eventstore.SubscribeOptions, stream bool) (*eventWriter, error) {
	if s.opts.Feed == nil {
		return nil, eventstore.ErrUnavailable
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies such as nginx not to buffer
	if r.Method == http.MethodHead {
		return nil, nil
	}
	if n := s.subscribers.Add(1); n > int64(s.opts.MaxSubscribers) {
		s.subscribers.Add(-1)
		return nil, &detailError{kind: errTooManySubscribers,
			detail: fmt.Sprintf("this server already serves %d subscriptions, the most it takes; try again shortly or another instance", s.opts.MaxSubscribers)}
	}
	ew := &eventWriter{s: s, w: w, stream: stream, endpoint: "log", sub: s.opts.Feed.Subscribe(*opts),
		// Every batch of writes and its flush is guarded: a client that
		// takes no bytes for the stall timeout is cut off (it resumes with
		// Last-Event-ID), rather than hold a goroutine and its buffers for
		// ever. A slow reader is not cut while it takes bytes, and falls
		// behind the live buffer to read from the database.
		guard: newStallGuard(w, r, s.opts.StallTimeout)}
	if stream {
		ew.endpoint = "stream"
	}
	s.opts.Metrics.Subscribed(ew.endpoint, 1)
	ew.emit = ew.deliver
	// Shutdown must not wait for a write that a client is not reading:
	// when it starts, cut every subscription's pending write short.
	ew.stop = context.AfterFunc(s.closingCtx, ew.cut) // no goroutine until shutdown
	w.WriteHeader(http.StatusOK)
	return ew, nil
}

// close releases what openEvents took.
func (ew *eventWriter) close() {
	ew.end()
	ew.stop()
	ew.sub.Close()
	ew.s.opts.Metrics.Subscribed(ew.endpoint, -1)
	ew.s.subscribers.Add(-1)
}

// eventWriter is one subscription's response.
type eventWriter struct {
	s        *Server
	w        http.ResponseWriter
	sub      eventstore.Subscription
	guard    *stallGuard
	emit     func(eventstore.Delivery) error // deliver, made once
	stop     func() bool                     // unregisters cut
	stream   bool
	endpoint string // for the metrics: log or stream

	err     error   // the first failed write: the client left
	guarded bool    // writes since the last flush are under the guard
	batch   *[]byte // frames not yet written, from batchPool; nil when idle
	lastID  int64   // the id of the last frame written
	// progress is where a filtered log subscription has got to: every
	// matching event up to it has been written.
	progress int64

	mu    sync.Mutex
	ended bool // the response is ending: shutdown must not cut its writes
}

// run writes the subscription until the client leaves, the feed stops or
// the server shuts down.
func (ew *eventWriter) run(ctx context.Context) {
	b := ew.buffer()
	*b = append(*b, "retry: "+strconv.Itoa(retryMillis)+"\n\n"...)
	if ew.flush() != nil {
		return // the client left
	}
	heartbeat := time.NewTicker(ew.s.opts.Heartbeat)
	defer heartbeat.Stop()
	for {
		err := ew.sub.Next(ctx, ew.emit)
		if (ew.batch != nil || ew.guarded) && ew.flush() != nil || ew.err != nil {
			return // the client left
		}
		if err != nil {
			if ctx.Err() == nil {
				ew.finish() // the feed stopped: end cleanly, the client resumes elsewhere
			}
			return
		}
		select {
		case <-ew.sub.Ready():
		case <-heartbeat.C:
			if ew.heartbeat() != nil {
				return
			}
		case <-ew.s.closing:
			// Shutting down: end the response cleanly; EventSource reconnects
			// with Last-Event-ID, to this instance's successor or another one.
			ew.finish()
			return
		case <-ctx.Done():
			return
		}
	}
}

// deliver adds one delivery to the batch.
func (ew *eventWriter) deliver(d eventstore.Delivery) error {
	switch {
	case d.Event != nil:
		ew.lastID = d.Event.Position
		if ew.stream {
			ew.lastID = d.Event.Version
		}
		b := ew.buffer()
		*b = append(*b, "id: "...)
		*b = strconv.AppendInt(*b, ew.lastID, 10)
		*b = append(*b, "\ndata: "...)
		*b = append(*b, ew.s.frames.json(d.Event)...)
		*b = append(*b, "\n\n"...)
	case d.CaughtUp:
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
	if ew.batch != nil && len(*ew.batch) >= maxBatchBytes {
		// A long page of history goes out in parts. The guard covers the
		// write alone, not the reads of the store until the next part.
		ew.write()
		ew.guard.end()
		ew.guarded = false
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

// write hands the batch to net/http's response buffer, under the guard.
func (ew *eventWriter) write() {
	if !ew.guarded {
		ew.guard.begin()
		ew.guarded = true
	}
	if b := ew.batch; b != nil {
		if ew.err == nil && len(*b) > 0 {
			_, ew.err = ew.w.Write(*b)
		}
		*b = (*b)[:0]
		if cap(*b) <= maxBatchBytes*2 {
			batchPool.Put(b)
		}
		ew.batch = nil
	}
}

// flush writes the batch and sends everything written since the last flush.
func (ew *eventWriter) flush() error {
	ew.write()
	if ew.err == nil {
		ew.err = ew.guard.rc.Flush()
	}
	ew.guard.end()
	ew.guarded = false
	return ew.err
}

// finish ends the response cleanly: it first stops the shutdown callback
// from cutting the writes (the last frames and net/http's closing chunk),
// then flushes.
func (ew *eventWriter) finish() {
	ew.end()
	ew.flush() //nolint:errcheck // ending anyway
}

// end marks the response as ending.
func (ew *eventWriter) end() {
	ew.mu.Lock()
	ew.ended = true
	ew.mu.Unlock()
}

// cut ends a pending write now, unless the response is ending.
func (ew *eventWriter) cut() {
	ew.mu.Lock()
	defer ew.mu.Unlock()
	if !ew.ended {
		ew.guard.stop()
	}
}

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

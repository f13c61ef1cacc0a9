package http

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/eventstore/storetest"
)

// The benchmarks in this file measure the server's hot paths with no
// database, so that a change to them shows in ns/op and, above all, in
// allocs/op. The events are the store benchmarks' (storetest.BenchData,
// about 60 bytes of data).

// BenchmarkDecodeAppend decodes an append body of 1, 10 and 100 events and
// converts it to the store's request, as appendEvents does: decodeJSON and
// convert, with the server's default limits. The bodies are what
// `load compare` sends (no event ids); events=100,ids gives every event an id.
func BenchmarkDecodeAppend(b *testing.B) {
	s := New(nil, Options{})
	stream := uuid.New()
	for _, bc := range []struct {
		name string
		n    int
		ids  bool
	}{
		{"events=1", 1, false},
		{"events=10", 10, false},
		{"events=100", 100, false},
		{"events=100,ids", 100, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := appendBody(bc.n, bc.ids)
			// One request whose body is rewound each time, so the
			// benchmark's own allocations stay out of the figures.
			rd := bytes.NewReader(body)
			r := httptest.NewRequest(http.MethodPost, "/streams/"+stream.String()+"/events", nil)
			r.Header.Set("Content-Type", "application/json")
			r.Body = rewindBody{rd}
			w := newDiscardResponse()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				var req appendRequest
				if err := decodeJSON(w, r, s.opts.MaxBodyBytes, nil, "", &req); err != nil {
					b.Fatal(err)
				}
				out, err := req.convert(stream, eventstore.Exactly(10), s.opts.MaxBatch, s.opts.MaxEventBytes)
				if err != nil {
					b.Fatal(err)
				}
				if len(out.Events) != bc.n {
					b.Fatalf("decoded %d events, want %d", len(out.Events), bc.n)
				}
			}
		})
	}
}

// BenchmarkAppendRequest serves a one-event append with If-Match through the
// whole handler (request id, access log, recoverer, timeout, routing,
// decoding, the answer) against a store that answers at once: what the
// server itself costs an append, beside net/http's reading and writing of
// the connection. The access log goes nowhere.
func BenchmarkAppendRequest(b *testing.B) {
	stream := uuid.New()
	now := time.Now()
	store := answeringStore{res: eventstore.AppendResult{StreamID: stream, StreamType: "order", Version: 11,
		Events: []eventstore.RecordedEvent{{ID: uuid.New(), Version: 11, Position: 1234, RecordedAt: now}}}}
	s := New(store, Options{Logger: slog.New(slog.DiscardHandler)})
	body := appendBody(1, false)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest(http.MethodPost, "/streams/"+stream.String()+"/events", nil)
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("If-Match", `"10"`)
	r.Body = rewindBody{rd}
	w := newDiscardResponse()
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		clear(w.h)
		s.ServeHTTP(w, r)
		if w.h.Get("ETag") != `"11"` {
			b.Fatalf("headers %v, want the ETag of version 11", w.h)
		}
	}
}

// BenchmarkAppendRoundTrip is one client's one-event append over loopback
// HTTP against a store that answers at once, with the access log written as
// the binary writes it (JSON, one write per line, here to a file): the
// turnaround a client sees between its appends, beside the database.
func BenchmarkAppendRoundTrip(b *testing.B) {
	stream := uuid.New()
	store := answeringStore{res: eventstore.AppendResult{StreamID: stream, StreamType: "order", Version: 11,
		Events: []eventstore.RecordedEvent{{ID: uuid.New(), Version: 11, Position: 1234, RecordedAt: time.Now()}}}}
	logs, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logs.Close()
	srv := httptest.NewServer(New(store, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))}))
	defer srv.Close()
	client := srv.Client()
	body := appendBody(1, false)
	url := srv.URL + "/streams/" + stream.String() + "/events"
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("If-Match", `"10"`)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d, want 201", resp.StatusCode)
		}
	}
}

// answeringStore answers every append with res.
type answeringStore struct {
	eventstore.Store
	res eventstore.AppendResult
}

func (s answeringStore) Append(context.Context, eventstore.AppendRequest) (eventstore.AppendResult, error) {
	return s.res, nil
}

// appendBody returns the JSON body of an append of n events.
func appendBody(n int, ids bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"stream_type":"order","events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{`)
		if ids {
			b.WriteString(`"id":"` + uuid.New().String() + `",`)
		}
		b.WriteString(`"type":"ItemAdded","data":` + storetest.BenchData + `}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// rewindBody is a request body the benchmark can reset.
type rewindBody struct{ *bytes.Reader }

func (rewindBody) Close() error { return nil }

// BenchmarkEncodeEvent encodes a page of 1,000 events into one reused
// buffer, as writeEvents does for every event it writes.
func BenchmarkEncodeEvent(b *testing.B) {
	b.Run("page=1000", func(b *testing.B) {
		page := benchEvents(b, 1000)
		var buf []byte
		n := 0
		for _, e := range page {
			buf = encodeEvent(buf[:0], e)
			n += len(buf)
		}
		b.SetBytes(int64(n))
		b.ReportAllocs()
		for b.Loop() {
			for _, e := range page {
				buf = encodeEvent(buf[:0], e)
			}
		}
	})
}

// BenchmarkEncodeAppendResult encodes the answer to an append of 1 and of
// 100 events, as appendEvents sends it.
func BenchmarkEncodeAppendResult(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			res := eventstore.AppendResult{StreamID: uuid.New(), StreamType: "order", Version: int64(n)}
			for i := range n {
				res.Events = append(res.Events, eventstore.RecordedEvent{ID: uuid.New(), Version: int64(i + 1), Position: int64(i + 1), RecordedAt: time.Now()})
			}
			b.ReportAllocs()
			for b.Loop() {
				encodeAppendResult(make([]byte, 0, 128+120*n), res)
			}
		})
	}
}

// BenchmarkWriteEvents writes a page of 1,000 events as a read's response
// (GET /events without a next link) into a ResponseWriter that discards
// what it is given, and pages of 1 and 20 (a poll near the head, a short
// stream). httptest.ResponseRecorder would copy every byte into a growing
// buffer, and that would be most of what is measured.
func BenchmarkWriteEvents(b *testing.B) {
	for _, n := range []int{1, 20, 1000} {
		b.Run(fmt.Sprintf("page=%d", n), func(b *testing.B) { benchmarkWriteEvents(b, n) })
	}
}

func benchmarkWriteEvents(b *testing.B, n int) {
	s := New(nil, Options{})
	page := benchEvents(b, n)
	events := func(yield func(eventstore.Event, error) bool) {
		for _, e := range page {
			if !yield(e, nil) {
				return
			}
		}
	}
	start := func(h http.Header, b []byte) []byte { return append(b, `{"events":[`...) }
	r := httptest.NewRequest(http.MethodGet, "/events?limit=1000", nil)
	w := newDiscardResponse()
	if err := s.writeEvents(w, r, events, start); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(w.n))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.writeEvents(w, r, events, start); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSSE delivers events to 1 and to 1,000 subscriptions of
// GET /events, through the whole handler (ServeHTTP, serveEvents, the
// stall guard, the writes and the flush) into ResponseWriters that discard
// what they are given. The feed is a live buffer like fanout's: each op
// publishes one event and wakes every subscription, which writes what it has
// not written yet and flushes once. An op is one event delivered to every
// subscriber; ns/frame is the time per subscriber. Each event is new to the
// frame cache, as a live event is: the first subscriber to write it encodes
// it, the others share that encoding.
//
// With detached, the subscriptions are live from the start and their
// ResponseWriters can be hijacked, as net/http's HTTP/1 ones can: the
// subscriptions take their connections over (serveEvents) and write chunks
// to connections that discard them, as every live subscription on HTTP/1
// does. Without, they stay on the handler (HTTP/2, or history).
func BenchmarkSSE(b *testing.B) {
	for _, detached := range []bool{false, true} {
		for _, n := range []int{1, 1000} {
			name := "subscribers=" + strconv.Itoa(n)
			if detached {
				name = "detached,subscribers=" + strconv.Itoa(n)
			}
			b.Run(name, func(b *testing.B) { benchmarkSSE(b, n, detached) })
		}
	}
}

func benchmarkSSE(b *testing.B, n int, detached bool) {
	s := New(emptyLog{}, Options{MaxSubscribers: n})
	feed := newBenchFeed(benchEvents(b, 2*len(s.frames.slots))) // every event misses the cache once
	feed.live = detached
	s.opts.Feed = feed
	var wg sync.WaitGroup
	writers := make([]*discardResponse, n)
	for i := range n {
		w := newDiscardResponse()
		if detached {
			w.conn = &discardConn{done: make(chan struct{}), closed: wg.Done}
			wg.Add(1)
		}
		writers[i] = w
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodGet, "/events", nil)
			r.Header.Set("Accept", "text/event-stream")
			s.ServeHTTP(w, r)
		})
	}
	for feed.open.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		feed.publish(int64(i + 1))
	}
	feed.stop()
	wg.Wait() // every frame written and flushed, every connection closed
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/frame")
	if w := writers[0]; b.N > 0 && (!detached && w.flushes < 2 || detached && w.conn.n == 0) {
		b.Fatal("the subscription never wrote an event")
	}
}

// benchFeed is a live feed whose head the benchmark moves: a subscription
// hands over the events from its cursor to the head, taken round-robin from
// a ring, as fanout's live buffer does. Like that buffer, it lets no
// subscription fall more than 512 events behind: the benchmark waits for it
// (fanout would have it read the store instead).
type benchFeed struct {
	live    bool // subscriptions start live: caught up at once
	ring    []eventstore.Event
	mu      sync.Mutex
	subs    []*benchSub
	open    atomic.Int64
	head    atomic.Int64
	stopped atomic.Bool
	changed atomic.Pointer[chan struct{}]
}

func newBenchFeed(ring []eventstore.Event) *benchFeed {
	f := &benchFeed{ring: ring}
	c := make(chan struct{})
	f.changed.Store(&c)
	return f
}

func (f *benchFeed) publish(head int64) {
	if head%64 == 0 {
		f.mu.Lock()
		for _, s := range f.subs {
			for s.cursor.Load() < head-512 {
				runtime.Gosched()
			}
		}
		f.mu.Unlock()
	}
	f.head.Store(head)
	c := make(chan struct{})
	close(*f.changed.Swap(&c))
}

// stop ends each subscription once it has every event.
func (f *benchFeed) stop() {
	f.stopped.Store(true)
	f.publish(f.head.Load())
}

func (f *benchFeed) Subscribe(eventstore.SubscribeOptions) eventstore.Subscription {
	s := &benchSub{feed: f}
	f.mu.Lock()
	f.subs = append(f.subs, s)
	f.mu.Unlock()
	f.open.Add(1)
	return s
}

type benchSub struct {
	feed     *benchFeed
	cursor   atomic.Int64
	wait     <-chan struct{}
	caughtUp bool
}

func (s *benchSub) Next(_ context.Context, emit func(eventstore.Delivery) error) error {
	if s.feed.live && !s.caughtUp {
		s.caughtUp = true
		if err := emit(eventstore.Delivery{CaughtUp: true}); err != nil {
			return err
		}
	}
	stopped := s.feed.stopped.Load()
	s.wait = *s.feed.changed.Load()
	head := s.feed.head.Load()
	for p := s.cursor.Load(); p < head; p = s.cursor.Add(1) {
		if err := emit(eventstore.Delivery{Event: &s.feed.ring[p%int64(len(s.feed.ring))]}); err != nil {
			return err
		}
	}
	if stopped {
		return errors.New("stopped")
	}
	return nil
}

func (s *benchSub) Ready() <-chan struct{} { return s.wait }
func (s *benchSub) Close()                 {}

// BenchmarkFrameCache asks the shared frame cache for the JSON of one new
// event once per subscriber, for 1,000 subscribers: one encoding and 999
// lookups per op.
func BenchmarkFrameCache(b *testing.B) {
	b.Run("subscribers=1000", func(b *testing.B) {
		var c frameCache
		ring := benchEvents(b, 2*len(c.slots))
		var n int
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e := &ring[i%len(ring)]
			i++
			for range 1000 {
				n += len(c.json(e))
			}
		}
		if n == 0 {
			b.Fatal("no JSON")
		}
	})
}

// benchEvents returns n events of one stream, at versions and positions 1 to n.
func benchEvents(b testing.TB, n int) []eventstore.Event {
	b.Helper()
	stream := uuid.New()
	at := time.Date(2026, 12, 2, 10, 0, 0, 123456000, time.UTC)
	events := make([]eventstore.Event, n)
	for i := range events {
		id, err := uuid.NewV7()
		if err != nil {
			b.Fatal(err)
		}
		events[i] = eventstore.Event{ID: id, StreamID: stream, StreamType: "order", Version: int64(i + 1), Position: int64(i + 1),
			Type: "ItemAdded", Data: []byte(storetest.BenchData), RecordedAt: at.Add(time.Duration(i) * time.Millisecond)}
	}
	return events
}

// discardResponse is a ResponseWriter that counts what it is given and
// keeps none of it. Like net/http's own, it flushes and takes write
// deadlines: without them, http.ResponseController would make an error for
// every guarded write, and the figures would show allocations a real
// connection does not cause.
type discardResponse struct {
	h       http.Header
	n       int
	flushes int
	conn    *discardConn // what Hijack returns; nil: it cannot be hijacked
}

func (w *discardResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.conn == nil {
		return nil, nil, http.ErrNotSupported
	}
	// detach peeks at what net/http read past the request: nothing here.
	return w.conn, bufio.NewReadWriter(bufio.NewReader(w.conn), nil), nil
}

// discardConn is a connection that counts what is written to it and keeps
// none of it; reads wait until it is closed.
type discardConn struct {
	net.Conn // not called
	n        int
	done     chan struct{}
	closed   func()
}

func (c *discardConn) Write(p []byte) (int, error) {
	c.n += len(p)
	return len(p), nil
}

func (c *discardConn) Read([]byte) (int, error) {
	<-c.done
	return 0, io.EOF
}

func (c *discardConn) Close() error {
	close(c.done)
	c.closed()
	return nil
}

func (c *discardConn) SetWriteDeadline(time.Time) error { return nil }

func newDiscardResponse() *discardResponse { return &discardResponse{h: http.Header{}} }

func (w *discardResponse) Header() http.Header { return w.h }
func (w *discardResponse) WriteHeader(int)     {}
func (w *discardResponse) Flush()              { w.flushes++ }

func (w *discardResponse) SetWriteDeadline(time.Time) error { return nil }

func (w *discardResponse) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

func TestAppendUUIDWritesTheCanonicalForm(t *testing.T) {
	for range 100 {
		id := uuid.New()
		if got := string(appendUUID([]byte("x"), id)); got != "x"+id.String() {
			t.Fatalf("appendUUID(%s) = %q", id, got)
		}
	}
}

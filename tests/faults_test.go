package tests

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// Fault injection: the real binary against a crash of itself, a database that
// goes away (cut off through a proxy, or a private mariadbd killed with
// SIGKILL: mysqltest.Server) and clients that misbehave. Every helper here
// is prefixed "fault" to stay clear of the other files' helpers.

// TestKill9OfTheServiceDuringBatchAppendsLeavesAcknowledgedBatchesWholeAndNoneInPart
// kills the service with SIGKILL while eight clients append batches, restarts
// it on the same data and finds every acknowledged batch whole at its
// acknowledged versions and positions, no batch in part, and the store
// carrying on from there.
func TestKill9OfTheServiceDuringBatchAppendsLeavesAcknowledgedBatchesWholeAndNoneInPart(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := startServer(t, k.ServerEnv...)
		const batchSize = 5
		load := startBatchWriters(t, s, 8, batchSize, 1000, time.Now().Add(time.Minute), strings.Repeat("k", 512))
		atKill := load.stopUnder(80, 10*time.Second, func() { s.kill(t) })
		if atKill == 0 {
			t.Fatal("expected appends to be acknowledged before the kill, none was")
		}
		t.Logf("%d batches acknowledged, %d sent when the server was killed", load.acked.Load(), len(load.sent))

		after := startServer(t, s.StoreEnv...)
		log := checkBatches(t, after, load.sent, batchSize)
		if t.Failed() {
			return
		}
		// The store carries on where the crash left it: each stream takes its
		// next batch at the next version, and positions go on past the log.
		last := int64(0)
		if len(log) > 0 {
			last = log[len(log)-1].Position
		}
		for _, id := range load.streams {
			var info streamInfo
			version := int64(0)
			if r := after.get(t, "/streams/"+id); r.Status == http.StatusOK {
				r.decode(t, &info)
				version = info.Version
			}
			res := after.mustAppend(t, id, appendBody{StreamType: "fault", Events: events(batchSize, "AfterRestart")},
				"If-Match", fmt.Sprintf(`"%d"`, version))
			if res.Events[0].Version != version+1 || res.Events[0].Position <= last {
				t.Errorf("stream %s after the restart: expected the next batch at version %d and a position above %d, got version %d at %d",
					id, version+1, last, res.Events[0].Version, res.Events[0].Position)
			}
		}
	})
}

// faultTail follows a subscription as an EventSource would: after any end of
// the response it reconnects with Last-Event-ID, and it records every event,
// noting any that repeats or comes out of order.
type faultTail struct {
	name   string
	url    string
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	drop     context.CancelFunc // ends the current connection
	events   []event
	lastID   string
	conns    int            // connections attempted
	statuses map[int]int    // non-200 answers to a connection attempt, counted
	faults   []string       // what the subscription did wrong
	ends     map[string]int // how connections ended, counted
}

// startFaultTail subscribes to url (a /events URL) and follows it until the
// test ends or stop is called.
func startFaultTail(t *testing.T, name, url string) *faultTail {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f := &faultTail{name: name, url: url, cancel: cancel, done: make(chan struct{}),
		statuses: map[int]int{}, ends: map[string]int{}}
	go f.run(ctx)
	t.Cleanup(f.stop)
	return f
}

func (f *faultTail) stop() {
	f.cancel()
	<-f.done
}

func (f *faultTail) run(ctx context.Context) {
	defer close(f.done)
	for ctx.Err() == nil {
		f.connect(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dropConnection ends the current connection, as a network failure would;
// the tail reconnects with Last-Event-ID.
func (f *faultTail) dropConnection() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.drop != nil {
		f.drop()
	}
}

// connect reads one connection to its end.
func (f *faultTail) connect(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var header []string
	f.mu.Lock()
	f.drop = cancel
	f.conns++
	lastID := f.lastID
	if lastID != "" {
		header = []string{"Last-Event-ID", lastID}
	}
	f.mu.Unlock()
	res, err := sendSubscribe(ctx, f.url, header...)
	if err != nil {
		if parent.Err() == nil {
			f.ended("connect error")
		}
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		f.mu.Lock()
		f.statuses[res.StatusCode]++
		f.mu.Unlock()
		return
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/event-stream" {
		f.fault("expected Content-Type text/event-stream, got %q", res.Header.Get("Content-Type"))
		return
	}
	p := ssetest.NewParser(res.Body, lastID)
	for {
		fr, _, err := p.Next()
		if err != nil {
			switch {
			case parent.Err() != nil:
			case ctx.Err() != nil:
				f.ended("dropped by the test")
			default:
				f.ended(fmt.Sprintf("read: %v", err))
			}
			return // a frame cut short is dropped, as EventSource does
		}
		f.dispatch(fr)
	}
}

func (f *faultTail) dispatch(fr ssetest.Frame) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastID = fr.LastEventID
	if fr.Event != "" || !fr.HasData {
		return // caught-up, retry, keep-alive
	}
	e, err := frameEvent(fr, false)
	if err != nil {
		f.faults = append(f.faults, fmt.Sprintf("event frame %s: %v", fr, err))
		return
	}
	if n := len(f.events); n > 0 && e.Position <= f.events[n-1].Position {
		f.faults = append(f.faults, fmt.Sprintf("event %s at position %d came after position %d: repeated or out of order",
			e.ID, e.Position, f.events[n-1].Position))
	}
	f.events = append(f.events, e)
}

func (f *faultTail) fault(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fmt.Sprintf(format, args...))
}

func (f *faultTail) ended(how string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ends[how]++
}

// lastPosition is the position of the last event received, 0 for none.
func (f *faultTail) lastPosition() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) == 0 {
		return 0
	}
	return f.events[len(f.events)-1].Position
}

// connections is how many connections the tail has opened.
func (f *faultTail) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

// waitFor waits until an event at position pos or later has come.
func (f *faultTail) waitFor(pos int64, d time.Duration) bool {
	for deadline := time.Now().Add(d); f.lastPosition() < pos; {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// summary says how the tail fared, for messages and logs.
func (f *faultTail) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%s: %d events over %d connections; non-200 answers %v; connections ended %v",
		f.name, len(f.events), f.conns, f.statuses, f.ends)
}

// checkGotLog requires that the tail received exactly log, in order, once
// each, and reported no fault.
func (f *faultTail) checkGotLog(t *testing.T, log []event) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, fault := range f.faults {
		t.Errorf("subscriber %s: %s", f.name, fault)
	}
	got := f.events
	for i := range max(len(got), len(log)) {
		switch {
		case i >= len(got):
			t.Errorf("subscriber %s: expected %d events as in the log, got %d; missing from position %d (%s) on",
				f.name, len(log), len(got), log[i].Position, log[i].ID)
			return
		case i >= len(log):
			t.Errorf("subscriber %s: got event %s at position %d, which is not in the log", f.name, got[i].ID, got[i].Position)
			return
		case got[i].ID != log[i].ID || got[i].Position != log[i].Position:
			t.Errorf("subscriber %s: expected event %s at position %d as %dth event, as in the log; got %s at %d",
				f.name, log[i].ID, log[i].Position, i+1, got[i].ID, got[i].Position)
			return
		}
	}
}

// faultCheckUnavailable requires a quick 503 problem with Retry-After.
func faultCheckUnavailable(t *testing.T, what string, r *response, err error, took time.Duration) {
	t.Helper()
	const quick = 5 * time.Second
	if err != nil {
		t.Errorf("%s while the database is cut off: expected 503, got a transport error after %s: %v", what, took, err)
		return
	}
	if took > quick {
		t.Errorf("%s while the database is cut off: expected an answer within %s, it took %s", what, quick, took)
	}
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("%s while the database is cut off: expected 503, got %d with body %s", what, r.Status, r.Body)
		return
	}
	if ra := r.Header.Get("Retry-After"); ra == "" {
		t.Errorf("%s while the database is cut off: expected a Retry-After header with the 503, got none", what)
	} else if n, err := strconv.Atoi(ra); err != nil || n < 0 {
		if _, err := http.ParseTime(ra); err != nil {
			t.Errorf("%s while the database is cut off: expected Retry-After in seconds or an HTTP date, got %q", what, ra)
		}
	}
	var p problem
	if mt := r.mediaType(); mt != "application/problem+json" {
		t.Errorf("%s while the database is cut off: expected application/problem+json, got %q", what, r.Header.Get("Content-Type"))
	} else if err := r.decodeErr(&p); err != nil {
		t.Errorf("%s while the database is cut off: %v", what, err)
	} else if p.Type != problemBase+"unavailable" || p.Status != http.StatusServiceUnavailable {
		t.Errorf("%s while the database is cut off: expected problem type %sunavailable with status 503, got %q with %d",
			what, problemBase, p.Type, p.Status)
	}
}

// TestDatabaseCutOffIsAQuick503AndTheServiceRecoversByItselfWithoutLosingEvents
// cuts the service off its database through a TCP proxy: every request that
// needs the database gets 503 with Retry-After at once, /readyz fails and
// /healthz does not; when the database is reachable again the service
// recovers without a restart, and two subscribers that were following the
// log, one of which lost its connection during the outage and resumed with
// Last-Event-ID, have every event once, those committed just before the cut
// included.
func TestDatabaseCutOffIsAQuick503AndTheServiceRecoversByItselfWithoutLosingEvents(t *testing.T) {
	t.Parallel()
	dsn, p := mysqltest.NewDatabaseBehindProxy(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn, "TRIBUTARY_HEARTBEAT=500ms")

	var (
		mu   sync.Mutex
		sent []*sentBatch
	)
	// appendOne sends one batch to stream and requires 201.
	appendOne := func(stream string) {
		t.Helper()
		b := newSentBatch(t, stream, 2, "before or after")
		b.send(s)
		if b.status != http.StatusCreated {
			t.Fatalf("append to %s: expected 201, got %d (%v)", stream, b.status, b.err)
		}
		mu.Lock()
		sent = append(sent, b)
		mu.Unlock()
	}
	a := newID()
	appendOne(a)
	appendOne(a)
	// One subscriber keeps its connection; the other loses it during the
	// outage and resumes with Last-Event-ID.
	stays := startFaultTail(t, "staying", s.URL+"/events")
	resumes := startFaultTail(t, "resuming", s.URL+"/events")
	for _, tail := range []*faultTail{stays, resumes} {
		if !tail.waitFor(sent[1].res.Events[1].Position, 10*time.Second) {
			t.Fatalf("expected the subscriber to get the first events within 10 s; %s", tail.summary())
		}
	}

	// A client appends all along, retrying a batch after each 503, as a
	// client should; its 503s must come quickly too.
	stopWriter := make(chan struct{})
	writerDone := make(chan struct{})
	var slowest503 atomic.Int64
	go func() {
		defer close(writerDone)
		stream := newID()
		for {
			select {
			case <-stopWriter:
				return
			default:
			}
			b := newSentBatch(t, stream, 2, "background")
			mu.Lock()
			sent = append(sent, b)
			mu.Unlock()
			for deadline := time.Now().Add(30 * time.Second); ; {
				start := time.Now()
				b.send(s)
				if b.acked() {
					break
				}
				if b.status == http.StatusServiceUnavailable {
					if d := int64(time.Since(start)); d > slowest503.Load() {
						slowest503.Store(d)
					}
				} else {
					t.Errorf("background append: expected 201 or 503, got %d (%v)", b.status, b.err)
					return
				}
				if time.Now().After(deadline) {
					t.Errorf("background append: still 503 after 30 s of retries")
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	stopBackground := sync.OnceFunc(func() {
		close(stopWriter)
		<-writerDone
	})
	t.Cleanup(stopBackground)

	// Events acknowledged just before the cut may not have reached the
	// subscriber yet: they must still come after the database returns.
	time.Sleep(200 * time.Millisecond)
	appendOne(a)
	cutAt := time.Now()
	p.Cut()

	var refused []*sentBatch // appends answered 503 during the outage: nothing may be written
	for round := range 2 {
		if round == 1 {
			resumes.dropConnection()
			time.Sleep(1500 * time.Millisecond) // the outage has settled: pools hold only dead connections
			if n := resumes.connections(); n < 2 {
				t.Errorf("expected the subscriber whose connection dropped during the outage to reconnect, it opened %d connections", n)
			}
		}
		refusedBatch := newSentBatch(t, a, 2, "during the outage")
		newStream := newSentBatch(t, newID(), 2, "during the outage")
		refused = append(refused, refusedBatch, newStream)
		for _, c := range []struct {
			method, path string
			body         []byte
		}{
			{http.MethodPost, "/streams/" + a + "/events", refusedBatch.body},
			{http.MethodPost, "/streams/" + newStream.streamID + "/events", newStream.body},
			{http.MethodGet, "/streams/" + a, nil},
			{http.MethodGet, "/streams/" + a + "/events", nil},
			{http.MethodGet, "/streams/" + a + "/events/1", nil},
			{http.MethodGet, "/events?after=0", nil},
			{http.MethodGet, "/streams?stream_type=fault", nil},
			{http.MethodGet, "/readyz", nil},
		} {
			start := time.Now()
			r, err := s.request(c.method, c.path, c.body)
			faultCheckUnavailable(t, fmt.Sprintf("%s %s (%s into the outage)", c.method, c.path, start.Sub(cutAt).Round(time.Millisecond)),
				r, err, time.Since(start))
		}
		if r := s.get(t, "/healthz"); r.Status != http.StatusOK {
			t.Errorf("GET /healthz while the database is cut off: expected 200 (the process is up), got %d with body %s", r.Status, r.Body)
		}
	}

	p.Restore(t)
	restoredAt := time.Now()
	first := newSentBatch(t, a, 2, "after the outage")
	for first.send(s); !first.acked(); first.send(s) {
		if time.Since(restoredAt) > 15*time.Second {
			t.Fatalf("expected appends to succeed again within 15 s of the database coming back, without a restart; the last answer was %d (%v)",
				first.status, first.err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	sent = append(sent, first)
	mu.Unlock()
	t.Logf("outage %s; first append acknowledged %s after the database came back; slowest 503 of the background client %s",
		restoredAt.Sub(cutAt).Round(time.Millisecond), time.Since(restoredAt).Round(time.Millisecond), time.Duration(slowest503.Load()))
	if r := s.get(t, "/readyz"); r.Status != http.StatusOK {
		t.Errorf("GET /readyz after the database came back: expected 200, got %d with body %s", r.Status, r.Body)
	}
	for range 5 {
		appendOne(a)
	}
	stopBackground()
	if d := time.Duration(slowest503.Load()); d > 5*time.Second {
		t.Errorf("background append: expected each 503 during the outage within 5 s, the slowest took %s", d)
	}

	log := checkBatches(t, s, append(slices.Clone(sent), refused...), 2)
	inLog := make(map[string]bool, len(log))
	for _, e := range log {
		inLog[e.ID] = true
	}
	for _, b := range refused {
		if slices.ContainsFunc(b.ids, func(id string) bool { return inLog[id] }) {
			t.Errorf("stream %s: expected nothing written of a batch answered 503 while the database was cut off, found its events", b.streamID)
		}
	}
	if len(log) == 0 {
		t.Fatal("expected events in the log after the outage, found none")
	}
	for _, tail := range []*faultTail{stays, resumes} {
		if !tail.waitFor(log[len(log)-1].Position, 15*time.Second) {
			t.Errorf("expected subscriber %s to reach position %d within 15 s of the end of the writes; it is at %d",
				tail.name, log[len(log)-1].Position, tail.lastPosition())
		}
		tail.stop()
		tail.checkGotLog(t, log)
		t.Log(tail.summary())
	}
}

// faultRawRequest is the start of an HTTP/1.1 request, up to its body.
func faultRawRequest(method, path string, header ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	for i := 0; i+1 < len(header); i += 2 {
		b.WriteString(header[i] + ": " + header[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// faultDial opens a raw TCP connection to s.
func faultDial(t *testing.T, s *server) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// faultWriteAndLeave writes raw to a new connection and closes it at once,
// with a reset (no lingering) when reset is set.
func faultWriteAndLeave(t *testing.T, s *server, raw string, reset bool) {
	t.Helper()
	c := faultDial(t, s)
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	if reset {
		c.SetLinger(0) //nolint:errcheck // a plain close does as well
	}
	c.Close()
}

// faultSlowBody is what a client that sends its body a byte at a time saw.
type faultSlowBody struct {
	sent   int           // body bytes written before the server ended it
	took   time.Duration // from the first byte of the request to the end of the connection
	status int           // of the answer, 0 if none came
}

// faultSendBodySlowly sends on c an append whose body goes a byte every
// 200 ms and returns when the server ends the connection (or after 20 s).
func faultSendBodySlowly(c *net.TCPConn, streamID string, body []byte) (faultSlowBody, error) {
	start := time.Now()
	head := faultRawRequest(http.MethodPost, "/streams/"+streamID+"/events",
		"Content-Type", "application/json", "Content-Length", strconv.Itoa(len(body)))
	if _, err := c.Write([]byte(head)); err != nil {
		return faultSlowBody{}, fmt.Errorf("write request head: %w", err)
	}
	var sent atomic.Int64
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for _, b := range body {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
	c.SetReadDeadline(start.Add(20 * time.Second)) //nolint:errcheck
	answer, _ := io.ReadAll(c)                     // up to the end of the connection, or the deadline
	res := faultSlowBody{sent: int(sent.Load()), took: time.Since(start)}
	close(stop)
	<-writerDone
	if rest, ok := strings.CutPrefix(string(answer), "HTTP/1.1 "); ok && len(rest) >= 3 {
		res.status, _ = strconv.Atoi(rest[:3])
	}
	return res, nil
}

// TestClientsThatLeaveMidRequestOrSendTheirBodySlowlyHarmNoOne: clients that
// close the connection halfway through the body, or right after sending a
// request without reading the answer, and clients that send their body a
// byte every 200 ms (cut off by TRIBUTARY_READ_TIMEOUT=1s), while four
// well-behaved clients keep appending and reading: those are all served,
// without a single 5xx anywhere; nothing is written in part, and nothing of
// an unfinished body at all.
func TestClientsThatLeaveMidRequestOrSendTheirBodySlowlyHarmNoOne(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const readTimeout = time.Second
		s := startServer(t, append(k.ServerEnv, "TRIBUTARY_READ_TIMEOUT="+readTimeout.String())...)

		// The well-behaved clients: they append and read back all along.
		type op struct {
			start, end time.Time
			what       string
			status     int
			err        error
		}
		var (
			opsMu sync.Mutex
			ops   []op
			wg    sync.WaitGroup
		)
		stop := make(chan struct{})
		for range 4 {
			stream := newID()
			wg.Go(func() {
				for i := 0; i < 2000; i++ {
					select {
					case <-stop:
						return
					default:
					}
					b := newSentBatch(t, stream, 2, "good")
					start := time.Now()
					b.send(s)
					mid := time.Now()
					r, err := s.request(http.MethodGet, "/streams/"+stream+"/events?limit=1000", nil)
					end := time.Now()
					read := op{start: mid, end: end, what: "GET /streams/" + stream + "/events", err: err}
					if err == nil {
						read.status = r.Status
					}
					opsMu.Lock()
					ops = append(ops, op{start: start, end: mid, what: "POST /streams/" + stream + "/events", status: b.status, err: b.err}, read)
					opsMu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		stopGood := sync.OnceFunc(func() {
			close(stop)
			wg.Wait()
		})
		t.Cleanup(stopGood)

		// Clients that leave halfway through the body: with Content-Length,
		// and chunked; closing normally, and with a reset.
		var unwritten []string // streams that must not exist
		for i := range 10 {
			b := newSentBatch(t, newID(), 3, "half")
			unwritten = append(unwritten, b.streamID)
			half := b.body[:len(b.body)/2]
			var raw string
			if i%2 == 0 {
				raw = faultRawRequest(http.MethodPost, "/streams/"+b.streamID+"/events",
					"Content-Type", "application/json", "Content-Length", strconv.Itoa(len(b.body))) + string(half)
			} else {
				raw = faultRawRequest(http.MethodPost, "/streams/"+b.streamID+"/events",
					"Content-Type", "application/json", "Transfer-Encoding", "chunked") + fmt.Sprintf("%x\r\n%s\r\n", len(half), half)
			}
			faultWriteAndLeave(t, s, raw, i%3 == 0)
		}
		// Clients that send a whole request and leave without reading the
		// answer: their append may or may not be written, but only whole.
		var unread []*sentBatch
		for i := range 10 {
			b := newSentBatch(t, newID(), 3, "unread")
			unread = append(unread, b)
			raw := faultRawRequest(http.MethodPost, "/streams/"+b.streamID+"/events",
				"Content-Type", "application/json", "Content-Length", strconv.Itoa(len(b.body))) + string(b.body)
			faultWriteAndLeave(t, s, raw, i%2 == 0)
		}
		for i := range 5 {
			faultWriteAndLeave(t, s, faultRawRequest(http.MethodGet, "/events?limit=1000"), i%2 == 0)
		}

		// Clients that send their body a byte every 200 ms, three at once.
		slowStart := time.Now()
		slow := make([]faultSlowBody, 3)
		slowErrs := make([]error, len(slow))
		var slowBodies []*sentBatch
		var swg sync.WaitGroup
		for i := range slow {
			b := newSentBatch(t, newID(), 3, "slow")
			slowBodies = append(slowBodies, b)
			unwritten = append(unwritten, b.streamID)
			c := faultDial(t, s)
			swg.Go(func() { slow[i], slowErrs[i] = faultSendBodySlowly(c, b.streamID, b.body) })
		}
		swg.Wait()
		slowEnd := time.Now()
		time.Sleep(300 * time.Millisecond) // the good clients go on a little past the slow ones
		stopGood()

		for i, r := range slow {
			switch {
			case slowErrs[i] != nil:
				t.Errorf("slow client %d: %v", i, slowErrs[i])
				continue
			case r.took > readTimeout+4*time.Second:
				t.Errorf("slow client %d: expected the server to cut it off about %s (TRIBUTARY_READ_TIMEOUT) into the request, the connection lasted %s (%d of %d body bytes sent)",
					i, readTimeout, r.took, r.sent, len(slowBodies[i].body))
			case r.sent >= len(slowBodies[i].body):
				t.Errorf("slow client %d: expected to be cut off before its whole body of %d bytes was sent, it sent it all in %s", i, r.sent, r.took)
			case r.status != 0 && r.status != http.StatusRequestTimeout:
				// RFC 9110 15.5.9: the request did not come whole in the time
				// the server was prepared to wait. It is not a malformed body.
				t.Errorf("slow client %d: expected no answer or 408 Request Timeout when cut off, got %d", i, r.status)
			}
			t.Logf("slow client %d: cut off after %s, %d of %d body bytes sent, answer %d (0: none)", i, r.took.Round(time.Millisecond), r.sent, len(slowBodies[i].body), r.status)
		}

		served := 0
		for _, o := range ops {
			switch {
			case o.err != nil:
				t.Errorf("well-behaved client: %s failed: %v", o.what, o.err)
			case o.status != http.StatusCreated && o.status != http.StatusOK:
				t.Errorf("well-behaved client: %s: expected 201 or 200, got %d", o.what, o.status)
			case o.end.Sub(o.start) > 5*time.Second:
				t.Errorf("well-behaved client: %s took %s; expected it served promptly", o.what, o.end.Sub(o.start))
			}
			if o.start.After(slowStart) && o.end.Before(slowEnd) {
				served++
			}
		}
		if served < 10 {
			t.Errorf("expected the well-behaved clients to be served while the slow ones dribbled (%s), only %d requests were",
				slowEnd.Sub(slowStart).Round(time.Millisecond), served)
		}
		t.Logf("%d requests of well-behaved clients, %d of them while the slow clients were connected", len(ops), served)

		for _, id := range unwritten {
			if r := s.get(t, "/streams/"+id); r.Status != http.StatusNotFound {
				t.Errorf("GET /streams/%s: expected 404, since its only append never sent its whole body; got %d with body %s", id, r.Status, r.Body)
			}
		}
		written := 0
		for _, b := range unread {
			r := s.get(t, "/streams/"+b.streamID+"/events")
			if r.Status == http.StatusNotFound {
				continue
			}
			requireStatus(t, r, http.StatusOK)
			var page streamPage
			r.decode(t, &page)
			got := make([]string, len(page.Events))
			for i, e := range page.Events {
				got[i] = e.ID
			}
			if !slices.Equal(got, b.ids) {
				t.Errorf("stream %s, whose client left without reading the answer: expected its batch whole %v or nothing, got %v", b.streamID, b.ids, got)
			}
			written++
		}
		t.Logf("%d of %d appends whose client left without reading the answer were written (whole)", written, len(unread))

		if r := s.get(t, "/healthz"); r.Status != http.StatusOK {
			t.Errorf("GET /healthz at the end: expected 200, got %d", r.Status)
		}
		for _, l := range s.logLines() {
			if st, _ := l["status"].(float64); l["msg"] == "request" && st >= 500 {
				t.Errorf("expected no 5xx for anyone, the server logged %v", l)
			}
			if l["msg"] == "panic" {
				t.Errorf("expected no panic, the server logged %v", l)
			}
		}
	})
}

// skipOutsideCI skips the test, saying why, except under CI=true, where
// what it needs must be there: then it fails.
func skipOutsideCI(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// TestMariaDBKilledUnderLoadTakesBackNothingAcknowledgedOrDelivered runs
// eight writers and two subscribers against a private mariadbd (binary log
// off, innodb_flush_log_at_trx_commit=1), kills the database with SIGKILL in
// the middle and starts it again on the same data directory. The service is
// not restarted: it must recover by itself. Afterwards every append that was
// acknowledged is there at its version and position, every event a
// subscriber was sent is there at the position it was sent with (nothing
// delivered was taken back by the crash, and no position went to another
// event), and each subscriber has every event of the log exactly once, the
// one whose connection dropped while the database was down included.
func TestMariaDBKilledUnderLoadTakesBackNothingAcknowledgedOrDelivered(t *testing.T) {
	t.Parallel()
	m := mysqltest.NewServer(t)
	dsn := m.CreateDatabase(t, "tributary")
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn, "TRIBUTARY_HEARTBEAT=500ms")
	tails := []*faultTail{
		startFaultTail(t, "first", s.URL+"/events"),
		startFaultTail(t, "second", s.URL+"/events"),
	}

	const (
		writers   = 8
		batchSize = 4
	)
	var (
		mu        sync.Mutex
		sent      []*sentBatch
		acked     atomic.Int64
		refused   atomic.Int64 // 503 answers
		resolved  atomic.Int64 // 200 answers: a retry found the batch stored after a 503
		wg        sync.WaitGroup
		stopWrite = make(chan struct{})
	)
	payload := strings.Repeat("m", 256)
	for w := range writers {
		stream := newID()
		wg.Go(func() {
			for {
				select {
				case <-stopWrite:
					return
				default:
				}
				b := newSentBatch(t, stream, batchSize, payload)
				mu.Lock()
				sent = append(sent, b)
				mu.Unlock()
				// Retry a batch until it is acknowledged, as a client should:
				// after a crash, a retry of a batch that was in fact stored is 200.
				for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
					b.send(s)
					if b.status == http.StatusOK {
						resolved.Add(1)
					}
					if b.acked() {
						acked.Add(1)
						break
					}
					if b.status != http.StatusServiceUnavailable {
						t.Errorf("writer %d: expected 201, 200 or 503, got %d (%v)", w, b.status, b.err)
						return
					}
					refused.Add(1)
					if time.Now().After(deadline) {
						t.Errorf("writer %d: still 503 after 60 s of retries", w)
						return
					}
				}
			}
		})
	}
	stopWriters := sync.OnceFunc(func() {
		close(stopWrite)
		wg.Wait()
	})
	t.Cleanup(stopWriters)

	waitAcks := func(n int64, d time.Duration) bool {
		for deadline := time.Now().Add(d); acked.Load() < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				return false
			}
		}
		return true
	}
	if !waitAcks(100, 20*time.Second) {
		t.Fatalf("expected 100 acknowledged appends within 20 s before the crash, got %d", acked.Load())
	}
	atKill := acked.Load()
	m.Kill()
	killedAt := time.Now()
	tails[1].dropConnection()          // it resumes with Last-Event-ID while the database is down
	time.Sleep(500 * time.Millisecond) // the service meets the dead database
	if r := s.get(t, "/healthz"); r.Status != http.StatusOK {
		t.Errorf("GET /healthz while the database is down: expected 200, got %d", r.Status)
	}
	if r := s.get(t, "/readyz"); r.Status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while the database is down: expected 503, got %d", r.Status)
	}
	m.Start(t)
	restartedAt := time.Now()
	if !waitAcks(acked.Load()+100, 30*time.Second) {
		t.Fatalf("expected appends to be acknowledged again within 30 s of the database's restart, without restarting the service; %d were acknowledged in all",
			acked.Load())
	}
	recoveredIn := time.Since(restartedAt)
	stopWriters()
	t.Logf("%d batches acknowledged before the kill, %d in all; the database was down %s; 100 more acknowledged %s after its restart; %d answers were 503, %d retries found their batch stored (200)",
		atKill, acked.Load(), restartedAt.Sub(killedAt).Round(time.Millisecond), recoveredIn.Round(time.Millisecond), refused.Load(), resolved.Load())
	if resolved.Load() > 0 {
		t.Logf("note: %d batches answered 503 (whose detail says nothing was written) had in fact been committed", resolved.Load())
	}

	log := checkBatches(t, s, sent, batchSize)
	if len(log) == 0 {
		t.Fatal("expected events in the log, found none")
	}
	byPosition := make(map[int64]event, len(log))
	for _, e := range log {
		byPosition[e.Position] = e
	}
	last := log[len(log)-1].Position
	for _, tail := range tails {
		if !tail.waitFor(last, 20*time.Second) {
			t.Errorf("expected subscriber %s to reach position %d within 20 s; it is at %d", tail.name, last, tail.lastPosition())
		}
		tail.stop()
		// Nothing delivered was taken back, and no position was given to
		// another event after the crash.
		tail.mu.Lock()
		for _, e := range tail.events {
			if got, ok := byPosition[e.Position]; !ok || got.ID != e.ID || got.StreamID != e.StreamID || got.Version != e.Version {
				t.Errorf("subscriber %s was sent event %s (stream %s version %d) at position %d; after the crash that position holds %q (stream %q version %d)",
					tail.name, e.ID, e.StreamID, e.Version, e.Position, got.ID, got.StreamID, got.Version)
			}
		}
		tail.mu.Unlock()
		tail.checkGotLog(t, log)
		t.Log(tail.summary())
	}
}

// TestStartRefusesADatabaseThatCanLoseAcknowledgedCommitsUnlessAllowed: on a
// private mariadbd started with --innodb-flush-log-at-trx-commit=2, and then
// with the binary log on but sync_binlog=0, the service refuses to start and
// says which setting is at fault; with TRIBUTARY_ALLOW_UNSAFE_DURABILITY=true
// it starts and warns; with safe settings it starts without a word.
func TestStartRefusesADatabaseThatCanLoseAcknowledgedCommitsUnlessAllowed(t *testing.T) {
	t.Parallel()
	m := mysqltest.NewServer(t, "--innodb-flush-log-at-trx-commit=2", "--log-bin=binlog", "--server-id=1", "--sync-binlog=1")
	dsn := m.CreateDatabase(t, "tributary")

	refuses := func(setting string) {
		t.Helper()
		code, stdout, stderr := runCommand(t, []string{"TRIBUTARY_ADDR=127.0.0.1:0", "TRIBUTARY_MYSQL_DSN=" + dsn})
		if code == 0 || !strings.Contains(stderr, setting) {
			t.Errorf("with %s unsafe: expected the api to exit non-zero naming %s on stderr, got status %d. Stdout:\n%s\nStderr:\n%s",
				setting, setting, code, stdout, stderr)
		}
	}
	warnings := func(s *server) []string {
		var out []string
		for _, l := range s.logLines() {
			if l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["msg"]), "lost in a crash") {
				out = append(out, fmt.Sprint(l["reason"]))
			}
		}
		return out
	}

	refuses("innodb_flush_log_at_trx_commit")
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn, "TRIBUTARY_ALLOW_UNSAFE_DURABILITY=true")
	if w := warnings(s); len(w) != 1 || !strings.Contains(w[0], "innodb_flush_log_at_trx_commit") {
		t.Errorf("with TRIBUTARY_ALLOW_UNSAFE_DURABILITY=true: expected one warning naming innodb_flush_log_at_trx_commit, got %q", w)
	}
	s.mustAppend(t, newID(), appendBody{StreamType: "fault", Events: events(1, "Happened")})
	if code, killed := s.terminate(); code != 0 || killed {
		t.Fatalf("expected the unsafe server to stop on SIGTERM with status 0, got %d (killed: %t)", code, killed)
	}

	m.Exec(t, "SET GLOBAL innodb_flush_log_at_trx_commit = 1", "SET GLOBAL sync_binlog = 0")
	refuses("sync_binlog")

	m.Exec(t, "SET GLOBAL sync_binlog = 1")
	s = startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn)
	if w := warnings(s); len(w) != 0 {
		t.Errorf("with safe settings: expected no durability warning, got %q", w)
	}
	s.mustAppend(t, newID(), appendBody{StreamType: "fault", Events: events(1, "Happened")})
}

// TestAnAppendRefusedBehindABackupsCommitLockIsNotWrittenWhenTheBackupEnds:
// mariadb-backup ends every backup with BACKUP STAGE BLOCK_COMMIT, a
// server-wide lock that blocks COMMIT but not the reads or the inserts
// before it. A COMMIT waiting on it is not ended when the driver closes the
// connection at the request's deadline: it ran once the backup ended, after
// the client had been answered 503 (found by a review, on both the
// one-round-trip and the read-first path). The service's writes and COMMIT
// now refuse such a lock at once. On a private mariadbd, because the lock
// stops every commit on the server.
func TestAnAppendRefusedBehindABackupsCommitLockIsNotWrittenWhenTheBackupEnds(t *testing.T) {
	m := mysqltest.NewServer(t)
	dsn := m.CreateDatabase(t, "tributary")
	s := startServer(t, "TRIBUTARY_MYSQL_DSN="+dsn, "TRIBUTARY_REQUEST_TIMEOUT=2s")
	x := newID()
	s.mustAppend(t, x, appendBody{StreamType: "order", Events: events(1, "Placed")})
	s.mustAppend(t, x, appendBody{Events: events(1, "Paid")}, "If-Match", `"1"`) // the writer knows x now

	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	backup, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer backup.Close()
	for _, q := range []string{"BACKUP STAGE START", "BACKUP STAGE FLUSH", "BACKUP STAGE BLOCK_DDL", "BACKUP STAGE BLOCK_COMMIT"} {
		if _, err := backup.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ended := false
	defer func() {
		if !ended {
			backup.ExecContext(context.Background(), "BACKUP STAGE END") //nolint:errcheck // the test failed already
		}
	}()
	y := newID()
	for _, r := range []*response{
		// x is known: one round trip, then read first.
		s.post(t, "/streams/"+x+"/events", appendBody{Events: events(1, "Shipped")}, "If-Match", `"2"`),
		// y is new and any version will do: read first.
		s.post(t, "/streams/"+y+"/events", appendBody{StreamType: "order", Events: events(1, "Placed")}),
	} {
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("%s %s during the backup's commit lock: %d %s; want 503", r.method, r.path, r.Status, r.Body)
		}
	}
	if _, err := backup.ExecContext(t.Context(), "BACKUP STAGE END"); err != nil {
		t.Fatal(err)
	}
	ended = true
	time.Sleep(2500 * time.Millisecond) // past the requests' deadline: anything left on the server has run
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("the log holds %d events once the backup ended; want the 2 acknowledged", n)
	}
	s.mustAppend(t, x, appendBody{Events: events(1, "Shipped")}, "If-Match", `"2"`)
	s.mustAppend(t, y, appendBody{StreamType: "order", Events: events(1, "Placed")})
}

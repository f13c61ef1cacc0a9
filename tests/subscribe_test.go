package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
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

// frameTimeout bounds the wait for one expected frame.
const frameTimeout = 5 * time.Second

// sseClient carries subscriptions. Unlike server.client it has no overall
// timeout, which would cut a long-lived response; every wait on a
// subscription is bounded by its caller instead.
var sseClient = &http.Client{Transport: &http.Transport{
	Proxy:                 nil, // traffic only to 127.0.0.1
	DisableCompression:    true,
	MaxIdleConnsPerHost:   16,
	ResponseHeaderTimeout: 10 * time.Second,
}}

// sseStream is one open subscription. A goroutine parses the body and hands
// over frames one at a time: a consumer that does not take them stops the
// reading, so the server sees a slow reader as one.
type sseStream struct {
	url       string
	header    http.Header
	frames    chan ssetest.Frame // closed when the body has ended or Close was called
	done      chan struct{}      // closed when the reading goroutine has returned
	cancel    context.CancelFunc
	body      io.ReadCloser
	closeOnce sync.Once

	// Valid once done is closed.
	err     error // what ended the body: nil for a clean end
	partial bool  // the body ended inside a frame
}

// dialSSE opens a subscription at url with the given header name/value
// pairs. It returns once the response headers have come, with an error
// unless they are 200 and text/event-stream.
func dialSSE(ctx context.Context, url string, header ...string) (*sseStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	res, err := sendSubscribe(ctx, url, header...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe GET %s: %w", url, err)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); res.StatusCode != http.StatusOK || mt != "text/event-stream" {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		cancel()
		return nil, fmt.Errorf("subscribe GET %s: expected 200 text/event-stream, got %d %q with body %s",
			url, res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	c := &sseStream{url: url, header: res.Header, frames: make(chan ssetest.Frame), done: make(chan struct{}),
		cancel: cancel, body: res.Body}
	// Like EventSource, keep the last event ID across connections until a
	// frame changes it.
	go c.read(ctx, res.Request.Header.Get("Last-Event-ID"))
	return c, nil
}

// sendSubscribe sends GET url with Accept: text/event-stream and the given
// header name/value pairs.
func sendSubscribe(ctx context.Context, url string, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return sseClient.Do(req)
}

func (c *sseStream) read(ctx context.Context, lastID string) {
	defer close(c.done)
	defer close(c.frames)
	p := ssetest.NewParser(c.body, lastID)
	for {
		f, partial, err := p.Next()
		if err != nil {
			c.partial = partial
			if !errors.Is(err, io.EOF) {
				c.err = err
			}
			return
		}
		select {
		case c.frames <- f:
		case <-ctx.Done():
			c.err = ctx.Err()
			return
		}
	}
}

// Close ends the subscription and waits for its reader. It may be called
// more than once.
func (c *sseStream) Close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.body.Close()
		<-c.done
	})
}

// errEnded says that the server ended the response.
var errEnded = errors.New("the subscription response ended")

// recv waits up to d for the next frame.
func (c *sseStream) recv(d time.Duration) (ssetest.Frame, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case f, ok := <-c.frames:
		if !ok {
			<-c.done
			return ssetest.Frame{}, fmt.Errorf("%w (read error: %v, inside a frame: %t)", errEnded, c.err, c.partial)
		}
		return f, nil
	case <-timer.C:
		return ssetest.Frame{}, errors.New("no frame came in time")
	}
}

// subscribe opens a subscription to path on s for the test goroutine and
// closes it at cleanup.
func subscribe(t *testing.T, s *server, path string, header ...string) *sseStream {
	t.Helper()
	c, err := dialSSE(t.Context(), s.URL+path, header...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// next returns the next frame that is not just a comment.
func (c *sseStream) next(t *testing.T) ssetest.Frame {
	t.Helper()
	for {
		f, err := c.recv(frameTimeout)
		if err != nil {
			t.Fatalf("%s: expected another frame within %s, got none: %v", c.url, frameTimeout, err)
		}
		if !f.IsComment() {
			return f
		}
	}
}

// requireRetry requires the first frame: retry: 2000 and nothing else.
func (c *sseStream) requireRetry(t *testing.T) {
	t.Helper()
	f, err := c.recv(frameTimeout)
	if err != nil {
		t.Fatalf("%s: expected a first frame \"retry: 2000\" within %s, got none: %v", c.url, frameTimeout, err)
	}
	if want := (ssetest.Frame{Retry: "2000"}); f.String() != want.String() {
		t.Fatalf("%s: expected a first frame %s, got %s", c.url, want, f)
	}
}

// requireEvents requires event frames with the given ids (versions for a
// stream, positions for the log), and returns their events.
func (c *sseStream) requireEvents(t *testing.T, stream bool, ids ...int64) []event {
	t.Helper()
	events, _ := c.requireFrames(t, stream, ids...)
	return events
}

// requireFrames is requireEvents that also returns the frames.
func (c *sseStream) requireFrames(t *testing.T, stream bool, ids ...int64) ([]event, []ssetest.Frame) {
	t.Helper()
	var out []event
	var frames []ssetest.Frame
	for _, id := range ids {
		f := c.next(t)
		e, err := frameEvent(f, stream)
		if err != nil {
			t.Fatalf("%s: expected the event frame with id %d, got %s: %v", c.url, id, f, err)
		}
		if f.ID != strconv.FormatInt(id, 10) {
			t.Fatalf("%s: expected the event frame with id %d next, got id %s: %s", c.url, id, f.ID, f)
		}
		out = append(out, e)
		frames = append(frames, f)
	}
	return out, frames
}

// requireCaughtUp requires the caught-up frame with data n.
func (c *sseStream) requireCaughtUp(t *testing.T, n int64) {
	t.Helper()
	c.requireCaughtUpWithin(t, n, n)
}

// requireCaughtUpWithin requires the caught-up frame with data from lo to
// hi: where a filter skips the last events, the position it reports may lag
// the log's head by a poll of the live feed.
func (c *sseStream) requireCaughtUpWithin(t *testing.T, lo, hi int64) {
	t.Helper()
	f := c.next(t)
	n, err := strconv.ParseInt(f.Data, 10, 64)
	if f.Event == "caught-up" && err == nil && lo <= n && n <= hi &&
		f.String() == (ssetest.Frame{Event: "caught-up", Data: f.Data, HasData: true}).String() {
		return
	}
	want := fmt.Sprintf("data %d", lo)
	if hi != lo {
		want = fmt.Sprintf("data from %d (the last event sent) to %d (the log head)", lo, hi)
	}
	t.Fatalf("%s: expected the caught-up frame with %s and nothing else, got %s", c.url, want, f)
}

// requireNoEvent requires no event for d: nothing but comments and id-only
// frames.
func (c *sseStream) requireNoEvent(t *testing.T, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Until(deadline) > 0; {
		f, err := c.recv(time.Until(deadline))
		if errors.Is(err, errEnded) {
			t.Fatalf("%s: expected the subscription to stay open, got: %v", c.url, err)
		}
		if err == nil && !f.IsComment() && (!f.HasID || f.HasData || f.Event != "" || f.Retry != "" || len(f.Unknown) > 0) {
			t.Fatalf("%s: expected no event for %s, got %s", c.url, d, f)
		}
	}
}

// frameEvent decodes an event frame: an id, no event field, and data that is
// one line of JSON decoding strictly into an event whose version (stream) or
// position (log) is the id.
func frameEvent(f ssetest.Frame, stream bool) (event, error) {
	var e event
	switch {
	case !f.HasID || !f.HasData:
		return e, errors.New("an event frame needs an id and data")
	case f.Event != "":
		return e, fmt.Errorf("an event frame must have no event field, got %q", f.Event)
	case strings.Contains(f.Data, "\n"):
		return e, errors.New("the event must be one line of JSON, got several data lines")
	case len(f.Unknown) > 0 || f.Retry != "":
		return e, errors.New("an event frame must hold only id and data")
	}
	dec := json.NewDecoder(strings.NewReader(f.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("decode the event: %w", err)
	}
	if dec.More() {
		return e, errors.New("the data holds more than one JSON value")
	}
	id, what := e.Position, "position"
	if stream {
		id, what = e.Version, "version"
	}
	if f.ID != strconv.FormatInt(id, 10) {
		return e, fmt.Errorf("expected the frame id to be the event's %s %d, got %q", what, id, f.ID)
	}
	return e, nil
}

// subscribeRequest sends a subscription request that is expected to fail
// and returns the answer. A 200 event stream is not read (it would never
// end): its body is returned empty.
func subscribeRequest(t *testing.T, s *server, path string, header ...string) *response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := sendSubscribe(ctx, s.URL+path, header...)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	r := &response{Status: res.StatusCode, Header: res.Header, method: http.MethodGet, path: path + " (Accept: text/event-stream)"}
	if res.StatusCode != http.StatusOK {
		if r.Body, err = io.ReadAll(res.Body); err != nil {
			t.Fatalf("GET %s: read body: %v", path, err)
		}
	}
	return r
}

// rawBatch is an append body whose data values are sent byte for byte (a
// json.Marshal of the body would compact them). streamType may be empty.
func rawBatch(streamType, eventType string, data ...string) string {
	var b strings.Builder
	b.WriteString("{")
	if streamType != "" {
		fmt.Fprintf(&b, `"stream_type":%q,`, streamType)
	}
	b.WriteString(`"events":[`)
	for i, d := range data {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%q,"type":%q,"data":%s}`, newID(), eventType, d)
	}
	b.WriteString("]}")
	return b.String()
}

// ackedEvent is an event as its append's 201 acknowledged it.
type ackedEvent struct {
	ID, StreamID, StreamType, Type string
	Version, Position              int64
}

// ackLog collects acknowledged events from several writers.
type ackLog struct {
	mu      sync.Mutex
	events  []ackedEvent
	appends int
}

// append appends batch through s and records what the 201 acknowledged. It
// returns an error for anything else, for use off the test goroutine.
func (l *ackLog) append(s *server, streamID, streamType string, batch []newEvent) error {
	body, err := json.Marshal(appendBody{StreamType: streamType, Events: batch})
	if err != nil {
		return err
	}
	r, err := s.request(http.MethodPost, "/streams/"+streamID+"/events", body)
	if err != nil {
		return fmt.Errorf("append to %s via %s: %w", streamID, s.URL, err)
	}
	if r.Status != http.StatusCreated {
		return fmt.Errorf("append to %s via %s: expected 201, got %d with body %s", streamID, s.URL, r.Status, r.Body)
	}
	var res appendResult
	if err := r.decodeErr(&res); err != nil {
		return err
	}
	if len(res.Events) != len(batch) {
		return fmt.Errorf("append to %s: expected %d events acknowledged, got %d", streamID, len(batch), len(res.Events))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appends++
	for i, e := range res.Events {
		l.events = append(l.events, ackedEvent{ID: e.ID, StreamID: res.StreamID, StreamType: res.StreamType,
			Type: batch[i].Type, Version: e.Version, Position: e.Position})
	}
	return nil
}

// head is the highest position acknowledged so far.
func (l *ackLog) head() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var h int64
	for _, e := range l.events {
		h = max(h, e.Position)
	}
	return h
}

// want returns the acknowledged events that keep accepts (nil: all), in
// position order.
func (l *ackLog) want(keep func(ackedEvent) bool) []ackedEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ackedEvent
	for _, e := range l.events {
		if keep == nil || keep(e) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b ackedEvent) int { return int(a.Position - b.Position) })
	return out
}

// checkDelivery reports how got differs from want: every wanted event exactly
// once, as acknowledged, positions strictly increasing, each stream's
// versions consecutive, and nothing else.
func checkDelivery(t *testing.T, who string, got []event, want []ackedEvent) {
	t.Helper()
	wantByID := make(map[string]ackedEvent, len(want))
	for _, w := range want {
		wantByID[w.ID] = w
	}
	var problems []string
	report := func(kind string, items []string) {
		if len(items) > 0 {
			problems = append(problems, fmt.Sprintf("%d %s (%s)", len(items), kind, strings.Join(items[:min(len(items), 5)], "; ")))
		}
	}
	seen := make(map[string]int, len(got))
	lastVersion := map[string]int64{}
	var duplicated, unknown, differing, disorder, versionGaps []string
	for i, e := range got {
		if i > 0 && e.Position <= got[i-1].Position {
			disorder = append(disorder, fmt.Sprintf("position %d after %d", e.Position, got[i-1].Position))
		}
		if v, ok := lastVersion[e.StreamID]; ok && e.Version != v+1 {
			versionGaps = append(versionGaps, fmt.Sprintf("stream %s version %d after %d", e.StreamID, e.Version, v))
		}
		lastVersion[e.StreamID] = e.Version
		seen[e.ID]++
		w, ok := wantByID[e.ID]
		switch {
		case seen[e.ID] == 2:
			duplicated = append(duplicated, fmt.Sprintf("position %d", e.Position))
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%s at position %d", e.ID, e.Position))
		case e.StreamID != w.StreamID || e.StreamType != w.StreamType || e.Type != w.Type ||
			e.Version != w.Version || e.Position != w.Position:
			differing = append(differing, fmt.Sprintf("%s: acknowledged %+v, received %s/%s %s v%d at %d",
				e.ID, w, e.StreamID, e.StreamType, e.Type, e.Version, e.Position))
		}
	}
	var missing []string
	for _, w := range want {
		if seen[w.ID] == 0 {
			missing = append(missing, fmt.Sprintf("position %d", w.Position))
		}
	}
	report("missing", missing)
	report("received more than once", duplicated)
	report("never acknowledged or not matching the subscription", unknown)
	report("differing from their acknowledgement", differing)
	report("out of position order", disorder)
	report("breaking a stream's version sequence", versionGaps)
	if len(problems) > 0 {
		t.Errorf("%s: expected each of the %d acknowledged events exactly once in increasing position order and nothing else; received %d events: %s",
			who, len(want), len(got), strings.Join(problems, ", "))
	}
}

// follower is one subscriber that records every event it receives, across
// reconnections with Last-Event-ID as EventSource makes them.
type follower struct {
	name   string
	path   string                // the subscription, e.g. /events?after=0
	stream bool                  // ids are stream versions, not log positions
	pick   func(conn int) string // the base URL for connection conn (0, 1, …)
	hold   func() time.Duration  // how long to keep a connection; nil = until it ends
	pause  func() time.Duration  // how long to wait after each frame; nil = no wait
	// floor, on an unfiltered log subscription, is the highest position
	// acknowledged so far: what was acknowledged before a connection is
	// history to it, due before its caught-up frame.
	floor func() int64

	mu      sync.Mutex
	events  []event
	lastID  string        // the last event ID, sent when reconnecting
	last    int64         // the id of the last event received
	caught  int           // caught-up frames received
	conns   int           // connections opened
	ends    []ending      // the responses the server ended
	faults  []string      // protocol violations
	changed chan struct{} // closed and replaced at each event and caught-up
}

// ending is how the server ended a response.
type ending struct {
	conn    int
	err     error // nil: the body ended cleanly
	partial bool  // it ended inside a frame
}

func (e ending) String() string {
	return fmt.Sprintf("connection %d ended with read error %v, inside a frame: %t", e.conn, e.err, e.partial)
}

// faultf records a protocol violation; f.mu must be held.
func (f *follower) faultf(format string, args ...any) {
	if len(f.faults) < 20 {
		f.faults = append(f.faults, fmt.Sprintf(format, args...))
	}
}

// run connects, reads and reconnects until ctx ends or a connection fails.
func (f *follower) run(ctx context.Context) {
	for conn := 0; ctx.Err() == nil; conn++ {
		f.mu.Lock()
		var header []string
		if f.lastID != "" {
			header = []string{"Last-Event-ID", f.lastID}
		}
		f.conns++
		f.mu.Unlock()
		var floor int64
		if f.floor != nil {
			floor = f.floor()
		}
		c, err := dialSSE(ctx, f.pick(conn)+f.path, header...)
		if err != nil {
			if ctx.Err() == nil {
				f.mu.Lock()
				f.faultf("connection %d: %v", conn, err)
				f.mu.Unlock()
			}
			return
		}
		f.read(ctx, c, conn, floor)
		c.Close()
	}
}

// read handles one connection's frames until it ends, has been held long
// enough, or ctx ends.
func (f *follower) read(ctx context.Context, c *sseStream, conn int, floor int64) {
	var hold <-chan time.Time
	if f.hold != nil {
		timer := time.NewTimer(f.hold())
		defer timer.Stop()
		hold = timer.C
	}
	first, caughtUp := true, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-hold:
			return
		case fr, ok := <-c.frames:
			if !ok {
				<-c.done
				if ctx.Err() == nil {
					f.mu.Lock()
					f.ends = append(f.ends, ending{conn, c.err, c.partial})
					f.mu.Unlock()
				}
				return
			}
			f.mu.Lock()
			f.handle(fr, conn, floor, first, &caughtUp)
			f.mu.Unlock()
			first = false
			if f.pause == nil {
				continue
			}
			select {
			case <-time.After(f.pause()):
			case <-ctx.Done():
				return
			}
		}
	}
}

// handle checks and records one frame; f.mu must be held.
func (f *follower) handle(fr ssetest.Frame, conn int, floor int64, first bool, caughtUp *bool) {
	defer func() { f.lastID = fr.LastEventID }()
	switch {
	case first:
		if fr.String() != (ssetest.Frame{Retry: "2000"}).String() {
			f.faultf("connection %d: expected the first frame to be retry: 2000, got %s", conn, fr)
		}
	case fr.IsComment():
	case fr.Event == "caught-up":
		n, err := strconv.ParseInt(fr.Data, 10, 64)
		switch {
		case *caughtUp:
			f.faultf("connection %d: expected one caught-up frame, got another: %s", conn, fr)
		case err != nil || n < f.last || fr.HasID:
			f.faultf("connection %d: expected caught-up data ≥ the last id %d and no id, got %s", conn, f.last, fr)
		case f.last < floor || n < floor:
			f.faultf("connection %d: expected caught-up only after the history, which reached position %d when connecting; got %s after the event at %d",
				conn, floor, fr, f.last)
		}
		*caughtUp = true
		f.caught++
		f.notify()
	case fr.HasID && !fr.HasData && !f.stream:
		// A filtered subscription's progress: it moves Last-Event-ID only.
		if n, err := strconv.ParseInt(fr.ID, 10, 64); err != nil || n < f.last {
			f.faultf("connection %d: expected an id-only frame's id ≥ the last event's %d, got %s", conn, f.last, fr)
		}
	default:
		e, err := frameEvent(fr, f.stream)
		if err != nil {
			f.faultf("connection %d: frame %s: %v", conn, fr, err)
			return
		}
		f.events = append(f.events, e)
		f.last = e.Position
		if f.stream {
			f.last = e.Version
		}
		f.notify()
	}
}

// notify wakes the waiters; f.mu must be held.
func (f *follower) notify() {
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

// waitFor waits until the follower has received the event with id at
// least id, or until deadline.
func (f *follower) waitFor(id int64, deadline time.Time) error {
	return f.waitUntil(deadline, fmt.Sprintf("an event with id ≥ %d", id), func() bool { return f.last >= id })
}

// waitUntil waits until reached, called with f.mu held, is true, or until
// deadline.
func (f *follower) waitUntil(deadline time.Time, what string, reached func() bool) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		f.mu.Lock()
		ok := reached()
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		changed := f.changed
		f.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-timer.C:
			f.mu.Lock()
			defer f.mu.Unlock()
			return fmt.Errorf("%s: expected %s in time, got to id %d with %d events over %d connections; faults: %q",
				f.name, what, f.last, len(f.events), f.conns, f.faults)
		}
	}
}

// result returns what the follower received; call it once it has stopped.
func (f *follower) result() (events []event, conns int, ends []ending, faults []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events), f.conns, slices.Clone(f.ends), slices.Clone(f.faults)
}

// runFollowers starts the followers, the i-th delays[i] from now (at once
// when delays is shorter), and returns a function that stops them and waits
// for them; cleanup calls it too.
func runFollowers(t *testing.T, followers []*follower, delays ...time.Duration) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for i, f := range followers {
		var delay time.Duration
		if i < len(delays) {
			delay = delays[i]
		}
		wg.Go(func() {
			select {
			case <-time.After(delay):
				f.run(ctx)
			case <-ctx.Done():
			}
		})
	}
	stop = func() {
		cancel()
		wg.Wait()
	}
	t.Cleanup(stop)
	return stop
}

func urlOf(s *server) func(int) string { return func(int) string { return s.URL } }

func TestStreamSubscriptionSendsHistoryThenCaughtUpThenLiveEventsAsStored(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		s.mustAppend(t, id, rawBatch("order", "OrderLine",
			`{"z":1, "a":"<&>", "n":1.50}`,
			"{\n  \"multi\": [1,\r\n 2],\n\t\"line\": \"x\"\n}",
			`"plain string"`))
		s.mustAppend(t, newID(), appendBody{StreamType: "other", Events: events(2, "Other")})

		c := subscribe(t, s, "/streams/"+id+"/events")
		if got := c.header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("expected Cache-Control: no-cache on a subscription, got %q", got)
		}
		c.requireRetry(t)
		got, frames := c.requireFrames(t, true, 1, 2, 3)
		c.requireCaughtUp(t, 3)

		// Live: no stream_type on an existing stream.
		s.mustAppend(t, id, rawBatch("", "OrderShipped", `{"live":true}`, `[1, 2 ,3]`))
		live, liveFrames := c.requireFrames(t, true, 4, 5)
		got, frames = append(got, live...), append(frames, liveFrames...)
		c.requireNoEvent(t, 300*time.Millisecond)

		for i, e := range got {
			path := fmt.Sprintf("/streams/%s/events/%d", id, e.Version)
			r := s.get(t, path)
			requireStatus(t, r, http.StatusOK)
			var stored event
			r.decode(t, &stored)
			if !jsonEqual([]byte(frames[i].Data), r.Body) {
				t.Errorf("event %d: expected the subscription to send what GET %s returns,\n%s\ngot\n%s", e.Version, path, r.Body, frames[i].Data)
			}
			// Data goes out byte for byte, except that a value spread over
			// several lines must be put on one for the data field.
			if bytes.ContainsAny(stored.Data, "\r\n") {
				if bytes.ContainsAny(e.Data, "\r\n") || !jsonEqual(e.Data, stored.Data) {
					t.Errorf("event %d: expected the multi-line data %q on one line with the same value, got %q", e.Version, stored.Data, e.Data)
				}
			} else if !bytes.Equal(e.Data, stored.Data) {
				t.Errorf("event %d: expected data byte for byte as stored %q, got %q", e.Version, stored.Data, e.Data)
			}
		}
	})
}

// TestIdleSubscriptionStaysOpenWithAKeepAliveCommentEachHeartbeat also sets
// the request timeouts below the time it watches: subscriptions are exempt.
func TestIdleSubscriptionStaysOpenWithAKeepAliveCommentEachHeartbeat(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := startServer(t, append(k.ServerEnv, "TRIBUTARY_HEARTBEAT=300ms",
			"TRIBUTARY_REQUEST_TIMEOUT=500ms", "TRIBUTARY_READ_TIMEOUT=500ms", "TRIBUTARY_READ_HEADER_TIMEOUT=500ms")...)
		for _, path := range []string{"/streams/" + newID() + "/events", "/events"} {
			t.Run(path, func(t *testing.T) {
				t.Parallel()
				c := subscribe(t, s, path)
				c.requireRetry(t)
				c.requireCaughtUp(t, 0)
				keepAlives := 0
				for deadline := time.Now().Add(1500 * time.Millisecond); time.Until(deadline) > 0; {
					f, err := c.recv(time.Until(deadline))
					if errors.Is(err, errEnded) {
						t.Fatalf("%s: expected an open subscription, got: %v", path, err)
					}
					switch {
					case err != nil:
					case f.String() == (ssetest.Frame{Comments: []string{"keep-alive"}}).String():
						keepAlives++
					default:
						t.Errorf("%s: expected only \": keep-alive\" comments on an idle subscription, got %s", path, f)
					}
				}
				if keepAlives < 2 {
					t.Errorf("%s: expected at least 2 keep-alive comments in 1.5 s with a 300ms heartbeat, got %d", path, keepAlives)
				}
			})
		}
	})
}

func TestSubscriptionResumesAfterLastEventIDOrFromOrAfter(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(5, "OrderLine")})    // positions 1–5
		s.mustAppend(t, newID(), appendBody{StreamType: "cart", Events: events(3, "CartLine")}) // positions 6–8
		stream := "/streams/" + id + "/events"

		cases := []struct {
			name     string
			path     string
			header   []string
			stream   bool
			history  []int64
			caughtUp int64
		}{
			{"stream Last-Event-ID 2", stream, []string{"Last-Event-ID", "2"}, true, []int64{3, 4, 5}, 5},
			{"stream from=4", stream + "?from=4", nil, true, []int64{4, 5}, 5},
			{"stream Last-Event-ID wins over from", stream + "?from=2", []string{"Last-Event-ID", "4"}, true, []int64{5}, 5},
			{"stream Last-Event-ID at the end", stream, []string{"Last-Event-ID", "5"}, true, nil, 5},
			{"log after=5", "/events?after=5", nil, false, []int64{6, 7, 8}, 8},
			{"log Last-Event-ID 6", "/events", []string{"Last-Event-ID", "6"}, false, []int64{7, 8}, 8},
			{"log Last-Event-ID wins over a smaller after", "/events?after=2", []string{"Last-Event-ID", "6"}, false, []int64{7, 8}, 8},
			{"log Last-Event-ID wins over a greater after", "/events?after=7", []string{"Last-Event-ID", "3"}, false, []int64{4, 5, 6, 7, 8}, 8},
		}
		subs := make([]*sseStream, len(cases))
		for i, tc := range cases {
			c := subscribe(t, s, tc.path, tc.header...)
			c.url = tc.name // failures name the case
			c.requireRetry(t)
			c.requireEvents(t, tc.stream, tc.history...)
			c.requireCaughtUp(t, tc.caughtUp)
			subs[i] = c
		}
		// Live, each gets exactly the next event: no repeat at the handover.
		s.mustAppend(t, id, appendBody{Events: events(1, "OrderLine")}) // version 6, position 9
		for i, tc := range cases {
			next := int64(9)
			if tc.stream {
				next = 6
			}
			subs[i].requireEvents(t, tc.stream, next)
		}
	})
}

func TestSubscriptionToAStreamThatDoesNotExistYetGetsItsEventsWhenWritten(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		c := subscribe(t, s, "/streams/"+id+"/events")
		c.requireRetry(t)
		c.requireCaughtUp(t, 0)
		if r := s.get(t, "/streams/"+id); r.Status != http.StatusNotFound {
			t.Fatalf("expected the stream to be still missing (404) after subscribing, got %d", r.Status)
		}
		s.mustAppend(t, newID(), appendBody{StreamType: "other", Events: events(2, "Other")})
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(2, "OrderPlaced")})
		c.requireEvents(t, true, 1, 2)
		// From the version after the stream's last: nothing until it is written.
		// (From further on is a 409: the stream has never reached it.)
		later := subscribe(t, s, "/streams/"+id+"/events?from=3")
		later.requireRetry(t)
		later.requireCaughtUp(t, 2)
		later.requireNoEvent(t, 300*time.Millisecond)
		s.mustAppend(t, id, appendBody{Events: events(2, "OrderLine")})
		c.requireEvents(t, true, 3, 4)
		later.requireEvents(t, true, 3, 4)
	})
}

func TestFilteredLogSubscriptionDeliversOnlyMatchingEventsAndMovesLastEventIDPastSkippedOnes(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		var acks ackLog
		streams := []struct{ id, typ, events string }{{newID(), "a", "XYX"}, {newID(), "b", "YXZ"}, {newID(), "c", "ZXY"}}
		write := func() {
			t.Helper()
			for _, st := range streams {
				var batch []newEvent
				for _, typ := range st.events {
					batch = append(batch, events(1, string(typ))...)
				}
				if err := acks.append(s, st.id, st.typ, batch); err != nil {
					t.Fatal(err)
				}
			}
		}
		write()
		write()
		history := acks.want(nil)
		head := history[len(history)-1].Position

		filters := []struct {
			query string
			keep  func(ackedEvent) bool
		}{
			{"stream_type=a,b", func(e ackedEvent) bool { return e.StreamType != "c" }},
			{"type=X", func(e ackedEvent) bool { return e.Type == "X" }},
			{"stream_type=a,b&type=X", func(e ackedEvent) bool { return e.StreamType != "c" && e.Type == "X" }},
			{"stream_type=c&type=Y,Z", func(e ackedEvent) bool { return e.StreamType == "c" && e.Type != "X" }},
		}
		subs := make([]*sseStream, len(filters))
		for i, f := range filters {
			c := subscribe(t, s, "/events?"+f.query)
			c.requireRetry(t)
			var want []int64
			for _, e := range acks.want(f.keep) {
				want = append(want, e.Position)
			}
			c.requireEvents(t, false, want...)
			c.requireCaughtUpWithin(t, want[len(want)-1], head)
			subs[i] = c
		}

		// Live: the filtered events in position order, and nothing else.
		write()
		write()
		for i, f := range filters {
			var want []int64
			for _, e := range acks.want(f.keep) {
				if e.Position > head {
					want = append(want, e.Position)
				}
			}
			c := subs[i]
			for len(want) > 0 {
				fr := c.next(t)
				if fr.HasID && !fr.HasData {
					continue // progress past skipped events
				}
				e, err := frameEvent(fr, false)
				if err != nil || e.Position != want[0] {
					t.Fatalf("%s: expected the event at position %d next, got %s (%v)", f.query, want[0], fr, err)
				}
				want = want[1:]
			}
			c.requireNoEvent(t, 400*time.Millisecond)
		}

		// A filter that skips many events: an id-only frame at heartbeat time
		// moves Last-Event-ID past them, and a resume from it starts there.
		rare := newID()
		if err := acks.append(s, rare, "d", events(1, "Rare")); err != nil {
			t.Fatal(err)
		}
		first := acks.want(nil)
		c := subscribe(t, s, "/events?type=Rare")
		c.requireRetry(t)
		c.requireEvents(t, false, first[len(first)-1].Position)
		if f := c.next(t); f.Event != "caught-up" {
			t.Fatalf("expected caught-up after the one Rare event, got %s", f)
		}
		for range 5 {
			if err := acks.append(s, rare, "d", events(10, "Common")); err != nil {
				t.Fatal(err)
			}
		}
		all := acks.want(nil)
		lastSkipped := all[len(all)-1].Position
		var progress ssetest.Frame
		for deadline := time.Now().Add(3 * time.Second); ; {
			f, err := c.recv(time.Until(deadline))
			if err != nil {
				t.Fatalf("expected an id-only frame with an id ≥ %d (the last skipped position) within 3 s, got none (%v)", lastSkipped, err)
			}
			if f.IsComment() {
				continue
			}
			if !f.HasID || f.HasData || f.Event != "" {
				t.Fatalf("expected only id-only frames while skipping events, got %s", f)
			}
			if n, _ := strconv.ParseInt(f.ID, 10, 64); n >= lastSkipped {
				progress = f
				break
			}
		}
		if progress.LastEventID != progress.ID {
			t.Fatalf("expected the id-only frame to set the last event ID to %s, got %q", progress.ID, progress.LastEventID)
		}
		resumed := subscribe(t, s, "/events?type=Rare", "Last-Event-ID", progress.LastEventID)
		resumed.requireRetry(t)
		if f := resumed.next(t); f.Event != "caught-up" {
			t.Fatalf("expected a resume from the id-only frame's id %s to deliver nothing before caught-up, got %s", progress.ID, f)
		}
		if err := acks.append(s, rare, "d", events(1, "Rare")); err != nil {
			t.Fatal(err)
		}
		all = acks.want(nil)
		resumed.requireEvents(t, false, all[len(all)-1].Position)
	}, "TRIBUTARY_HEARTBEAT=300ms")
}

// TestFilteredSubscriptionMovesLastEventIDPastEventsSkippedInHistory: the
// id-only frame is promised whenever the filter has skipped events (README,
// openapi.yaml), so also for those skipped while sending the history.
func TestFilteredSubscriptionMovesLastEventIDPastEventsSkippedInHistory(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		s.mustAppend(t, id, appendBody{StreamType: "d", Events: events(1, "Rare")}) // position 1
		s.mustAppend(t, id, appendBody{Events: events(50, "Common")})               // positions 2–51
		// The live feed reads them first: to the subscription they are history.
		time.Sleep(300 * time.Millisecond)
		c := subscribe(t, s, "/events?type=Rare")
		c.requireRetry(t)
		c.requireEvents(t, false, 1)
		c.requireCaughtUpWithin(t, 1, 51)
		for deadline := time.Now().Add(1500 * time.Millisecond); ; {
			f, err := c.recv(time.Until(deadline))
			if err != nil {
				t.Fatalf("expected an id-only frame with id 51 (the last skipped position) within 1.5 s (5 heartbeats), got none (%v)", err)
			}
			if f.IsComment() {
				continue
			}
			if f.String() != (ssetest.Frame{ID: "51", HasID: true}).String() {
				t.Fatalf("expected an id-only frame with id 51 (the last skipped position), got %s", f)
			}
			return
		}
	}, "TRIBUTARY_HEARTBEAT=300ms")
}

// TestFilteredSubscriberGetsAMatchingEventAtOnceAlsoWhenSkippedEventsFollowIt
// writes through a second process, so that the subscriber's live feed reads
// a matching event and a skipped one after it in one poll.
func TestFilteredSubscriberGetsAMatchingEventAtOnceAlsoWhenSkippedEventsFollowIt(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	reader := launchServer(t, "TRIBUTARY_MYSQL_DSN="+dsn, "TRIBUTARY_POLL_INTERVAL=500ms")
	writer := launchServer(t, "TRIBUTARY_MYSQL_DSN="+dsn)
	reader.waitListening(t)
	writer.waitListening(t)
	c := subscribe(t, reader, "/events?stream_type=order")
	c.requireRetry(t)
	c.requireCaughtUp(t, 0)
	order := newID()
	for i := range 3 {
		ack := writer.mustAppend(t, order, appendBody{StreamType: "order", Events: events(1, "OrderLine")})
		writer.mustAppend(t, newID(), appendBody{StreamType: "cart", Events: events(1, "CartLine")})
		for deadline := time.Now().Add(2 * time.Second); ; {
			f, err := c.recv(time.Until(deadline))
			if err != nil {
				t.Fatalf("round %d: expected the order event at position %d within 2 s (poll interval 500ms, heartbeat 15 s), got none (%v)",
					i+1, ack.Events[0].Position, err)
			}
			if f.IsComment() || (f.HasID && !f.HasData) {
				continue
			}
			if e, err := frameEvent(f, false); err != nil || e.Position != ack.Events[0].Position {
				t.Fatalf("round %d: expected the order event at position %d, got %s (%v)", i+1, ack.Events[0].Position, f, err)
			}
			break
		}
	}
}

func TestLogSubscribersStartedDuringWritesGetEveryEventOnceInOrder(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		const (
			writers     = 8
			subscribers = 5
			writeFor    = 2500 * time.Millisecond
		)
		var acks ackLog
		var writing sync.WaitGroup
		stopCh := make(chan struct{})
		stopWriting := sync.OnceFunc(func() { close(stopCh) })
		t.Cleanup(func() { stopWriting(); writing.Wait() })
		for w := range writers {
			streams := []string{newID(), newID(), newID()}
			writing.Go(func() {
				for {
					select {
					case <-stopCh:
						return
					default:
					}
					if err := acks.append(s, streams[rand.IntN(3)], fmt.Sprintf("w%d", w), events(1+rand.IntN(3), "Load")); err != nil {
						t.Errorf("writer %d: %v", w, err)
						return
					}
				}
			})
		}

		followers := make([]*follower, subscribers)
		delays := make([]time.Duration, subscribers)
		for i := range followers {
			followers[i] = &follower{name: fmt.Sprintf("subscriber %d", i), path: "/events?after=0", pick: urlOf(s), floor: acks.head}
			delays[i] = time.Duration(i) * writeFor / subscribers
		}
		stop := runFollowers(t, followers, delays...)
		time.Sleep(writeFor)
		stopWriting()
		writing.Wait()
		want := acks.want(nil)
		if len(want) == 0 {
			t.Fatal("expected the writers to have appended events, none were acknowledged")
		}
		head := want[len(want)-1].Position
		deadline := time.Now().Add(10 * time.Second)
		for _, f := range followers {
			if err := f.waitFor(head, deadline); err != nil {
				t.Error(err)
			}
		}
		time.Sleep(300 * time.Millisecond) // anything extra would come now
		stop()
		for _, f := range followers {
			got, _, ends, faults := f.result()
			if len(ends) > 0 {
				t.Errorf("%s: expected the subscription to stay open, got %v", f.name, ends)
			}
			for _, x := range faults {
				t.Errorf("%s: %s", f.name, x)
			}
			checkDelivery(t, f.name, got, want)
		}
		t.Logf("%d events by %d writers", len(want), writers)
	})
}

func TestSubscribersReconnectingAcrossThreeServersGetEveryEventOnceInOrder(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	const (
		nServers    = 3
		writers     = 16
		nStreams    = 200
		maxAppends  = 1500
		writeFor    = 8 * time.Second
		subscribers = 10
	)
	servers := make([]*server, nServers)
	for i := range servers {
		servers[i] = launchServer(t, "TRIBUTARY_MYSQL_DSN="+dsn)
	}
	for _, s := range servers {
		s.waitListening(t)
	}
	var acks ackLog
	randomURL := func(int) string { return servers[rand.IntN(nServers)].URL }
	followers := make([]*follower, subscribers)
	for i := range followers {
		followers[i] = &follower{name: fmt.Sprintf("subscriber %d", i), path: "/events", pick: randomURL, floor: acks.head,
			hold: func() time.Duration { return 200*time.Millisecond + rand.N(800*time.Millisecond) }}
	}
	stop := runFollowers(t, followers)

	streams := make([]string, nStreams)
	for i := range streams {
		streams[i] = newID()
	}
	var appends atomic.Int64
	var writing sync.WaitGroup
	deadline := time.Now().Add(writeFor)
	start := time.Now()
	for w := range writers {
		writing.Go(func() {
			for appends.Add(1) <= maxAppends && time.Now().Before(deadline) {
				i := rand.IntN(nStreams)
				s := servers[rand.IntN(nServers)]
				if err := acks.append(s, streams[i], fmt.Sprintf("t%d", i%4), events(1+rand.IntN(3), "Load")); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	writing.Wait()
	wrote := time.Since(start)
	want := acks.want(nil)
	if t.Failed() || len(want) == 0 {
		t.FailNow()
	}
	head := want[len(want)-1].Position
	catchUp := time.Now().Add(15 * time.Second)
	for _, f := range followers {
		if err := f.waitFor(head, catchUp); err != nil {
			t.Error(err)
		}
	}
	stop()
	conns := 0
	for _, f := range followers {
		got, n, _, faults := f.result()
		conns += n
		for _, x := range faults {
			t.Errorf("%s: %s", f.name, x)
		}
		checkDelivery(t, f.name, got, want)
	}
	// The database holds exactly what was acknowledged.
	checkDelivery(t, "GET /events", servers[0].readLog(t, "/events?limit=1000"), want)
	t.Logf("%d events in %d appends over %s; %d subscriber connections in all", len(want), acks.appends, wrote, conns)
}

// TestSlowSubscriberDoesNotDelayAFastOneAndStillGetsEverything: a
// subscriber that stops reading (here stalled outright, the slowest there
// is) must not hold back another on the same server: the fast one gets
// every event while the stalled one still has at most the first, and the
// stalled one, once it reads again, gets everything too, on its one
// connection. Nothing here is timed: a server that fed its subscribers at
// the pace of the slowest would never bring the fast one the events, and
// the deadlines only bound that hang. The stall timeout is raised so that
// the stalled connection is not cut however slow the machine.
func TestSlowSubscriberDoesNotDelayAFastOneAndStillGetsEverything(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		const (
			batches   = 30
			batchSize = 100
		)
		// Big events, so that far more is written than socket buffers and the
		// server's per-subscriber buffer hold together.
		payload := strings.Repeat("x", 4000)
		var stalling atomic.Bool
		stalled := make(chan struct{}) // closed: the slow subscriber reads again
		fast := &follower{name: "fast subscriber", path: "/events", pick: urlOf(s)}
		slow := &follower{name: "slow subscriber", path: "/events", pick: urlOf(s),
			pause: func() time.Duration {
				if stalling.Load() {
					<-stalled
				}
				return 0
			}}
		stop := runFollowers(t, []*follower{fast, slow})
		readAgain := sync.OnceFunc(func() { close(stalled) })
		t.Cleanup(readAgain) // before the followers are stopped, should the test end early
		for _, f := range []*follower{fast, slow} {
			if err := f.waitUntil(time.Now().Add(frameTimeout), "caught-up", func() bool { return f.caught > 0 }); err != nil {
				t.Fatal(err)
			}
		}
		// From its next frame (a keep-alive or the first event) on, the slow
		// subscriber reads nothing.
		stalling.Store(true)

		var acks ackLog
		id := newID()
		for b := range batches {
			batch := make([]newEvent, batchSize)
			for i := range batch {
				batch[i] = newEvent{ID: newID(), Type: "Big", Data: map[string]any{"b": b, "i": i, "p": payload}}
			}
			if err := acks.append(s, id, "big", batch); err != nil {
				t.Fatal(err)
			}
		}
		want := acks.want(nil)
		head := want[len(want)-1].Position
		if err := fast.waitFor(head, time.Now().Add(2*time.Minute)); err != nil {
			slowGot, _, _, _ := slow.result()
			t.Fatalf("%v: the fast subscriber was held back while the slow one, stalled, had %d events", err, len(slowGot))
		}
		if slowGot, _, _, _ := slow.result(); len(slowGot) > 1 {
			t.Fatalf("expected the slow subscriber to have at most 1 of %d events while it was stalled, got %d: the test proves nothing", len(want), len(slowGot))
		}
		readAgain()
		if err := slow.waitFor(head, time.Now().Add(2*time.Minute)); err != nil {
			t.Error(err)
		}
		stop()
		for _, f := range []*follower{fast, slow} {
			got, conns, ends, faults := f.result()
			if conns != 1 || len(ends) > 0 {
				t.Errorf("%s: expected to stay on its one connection, got %d connections, ends %v", f.name, conns, ends)
			}
			for _, x := range faults {
				t.Errorf("%s: %s", f.name, x)
			}
			checkDelivery(t, f.name, got, want)
		}
	}, "TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT=1h")
}

func TestSIGTERMEndsSubscriptionsCleanlyAndTheyResumeOnAnotherServer(t *testing.T) {
	t.Parallel()
	dsn := mysqltest.NewDatabase(t)
	a := launchServer(t, "TRIBUTARY_MYSQL_DSN="+dsn, "TRIBUTARY_SHUTDOWN_TIMEOUT=20s")
	b := launchServer(t, "TRIBUTARY_MYSQL_DSN="+dsn)
	a.waitListening(t)
	b.waitListening(t)

	order := newID()
	// The first connection goes to a, the resumed ones to b.
	pick := func(conn int) string {
		if conn == 0 {
			return a.URL
		}
		return b.URL
	}
	streamF := &follower{name: "stream subscriber", path: "/streams/" + order + "/events", stream: true, pick: pick}
	var acks ackLog
	logF := &follower{name: "log subscriber", path: "/events", pick: pick, floor: acks.head}
	filteredF := &follower{name: "filtered log subscriber", path: "/events?stream_type=order", pick: pick}
	followers := []*follower{streamF, logF, filteredF}
	stop := runFollowers(t, followers)

	// One writer appends through b, to the order stream and to others,
	// before, during and after a's shutdown.
	var writing sync.WaitGroup
	stopCh := make(chan struct{})
	stopWriting := sync.OnceFunc(func() { close(stopCh) })
	t.Cleanup(func() { stopWriting(); writing.Wait() })
	writing.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stopCh:
				return
			case <-time.After(5 * time.Millisecond):
			}
			id, typ := order, "order"
			if i%2 == 1 {
				id, typ = newID(), "cart"
			}
			if err := acks.append(b, id, typ, events(1, "Line")); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	started := time.Now().Add(10 * time.Second)
	for _, f := range followers {
		if err := f.waitUntil(started, "10 events", func() bool { return len(f.events) >= 10 }); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Now()
	code, killed := a.terminate()
	took := time.Since(start)
	switch {
	case killed:
		t.Fatalf("expected the server to exit within 5 s of SIGTERM, it had to be killed after %s", stopTimeout)
	case code != 0:
		t.Errorf("expected exit status 0 after SIGTERM, got %d", code)
	case took > 5*time.Second:
		t.Errorf("expected the server to exit within 5 s of SIGTERM (shutdown timeout 20 s), it took %s", took)
	}

	time.Sleep(300 * time.Millisecond) // events keep coming while the subscribers resume
	stopWriting()
	writing.Wait()
	all := acks.want(nil)
	inOrder := acks.want(func(e ackedEvent) bool { return e.StreamID == order })
	deadline := time.Now().Add(10 * time.Second)
	if err := streamF.waitFor(inOrder[len(inOrder)-1].Version, deadline); err != nil {
		t.Error(err)
	}
	if err := logF.waitFor(all[len(all)-1].Position, deadline); err != nil {
		t.Error(err)
	}
	if err := filteredF.waitFor(inOrder[len(inOrder)-1].Position, deadline); err != nil {
		t.Error(err)
	}
	stop()
	for _, f := range followers {
		got, conns, ends, faults := f.result()
		if len(ends) != 1 || ends[0] != (ending{conn: 0}) || conns != 2 {
			t.Errorf("%s: expected the SIGTERM to end the first response cleanly (no read error, not inside a frame) and one resume, got %d connections, ends %v",
				f.name, conns, ends)
		}
		for _, x := range faults {
			t.Errorf("%s: %s", f.name, x)
		}
		if f == streamF || f == filteredF {
			checkDelivery(t, f.name, got, inOrder)
		} else {
			checkDelivery(t, f.name, got, all)
		}
	}
	t.Logf("server exited %s after SIGTERM; %d events written", took.Round(time.Millisecond), len(all))
}

func TestSIGTERMStopsPromptlyEvenWithASubscriberThatStoppedReading(t *testing.T) {
	t.Parallel()
	s := startServer(t, "TRIBUTARY_SHUTDOWN_TIMEOUT=8s")
	stalled := subscribe(t, s, "/events")
	stalled.requireRetry(t)
	// Nothing reads stalled from here on. Write far more than socket buffers
	// hold, so that the server's writes to it block.
	payload := strings.Repeat("x", 4000)
	id := newID()
	for b := range 20 {
		batch := make([]newEvent, 100)
		for i := range batch {
			batch[i] = newEvent{ID: newID(), Type: "Big", Data: map[string]any{"b": b, "i": i, "p": payload}}
		}
		s.mustAppend(t, id, appendBody{StreamType: "big", Events: batch})
	}
	time.Sleep(300 * time.Millisecond) // the live feed hands the events over
	start := time.Now()
	code, killed := s.terminate()
	took := time.Since(start)
	if killed || code != 0 || took > 5*time.Second {
		t.Errorf("expected exit status 0 within 5 s of SIGTERM (shutdown timeout 8 s) although one subscriber had stopped reading; "+
			"got status %d after %s (killed: %t)", code, took.Round(time.Millisecond), killed)
	}
}

func TestMalformedLastEventIDAndBackwardSubscriptionAre400(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(2, "OrderLine")})
		for _, path := range []string{"/streams/" + id + "/events", "/events"} {
			for _, v := range []string{"-1", "abc", "1.5", "+1", "0x10", "99999999999999999999"} {
				r := subscribeRequest(t, s, path, "Last-Event-ID", v)
				r.path += " with Last-Event-ID " + strconv.Quote(v)
				checkProblem(t, r, http.StatusBadRequest, "bad-request")
			}
		}
		for _, path := range []string{
			"/streams/" + id + "/events?direction=backward",
			"/streams/" + id + "/events?from=0",
			"/events?after=-1",
			"/events?type=9bad",
		} {
			checkProblem(t, subscribeRequest(t, s, path), http.StatusBadRequest, "bad-request")
		}
	})
}

package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// TestAppendRedirectedToAGetIsNotASuccess: a 301, 302 or 303 (an http →
// https redirect of a proxy in front of the server) makes net/http send
// the append again as a GET, whose answer, the stream's page, decoded as an
// AppendResult: Append reported a duplicate, stored before, for a batch
// that was never sent.
func TestAppendRedirectedToAGetIsNotASuccess(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			id := uuid.New()
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					http.Redirect(w, r, "/elsewhere"+r.URL.Path, code)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"stream_id":"`+id.String()+`","stream_type":"order","version":1,"events":[{"id":"`+uuid.NewString()+`","version":1,"position":1,"recorded_at":"2026-12-04T00:00:00Z"}]}`) //nolint:errcheck // a test's answer
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			if err == nil {
				t.Fatalf("an append answered %d, followed as a GET, = %+v, nil; expected an error: nothing was stored", code, res)
			}
		})
	}
}

// TestAppendTakesOnly200Or201ForAnAnswer: an append answered with another
// status below 400 (202, 204, a 3xx not followed) is not stored as far as
// the client knows, but a JSON object there decoded into a result, with
// version 0, and an error-free return.
func TestAppendTakesOnly200Or201ForAnAnswer(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusAccepted, http.StatusNoContent, http.StatusMultipleChoices, http.StatusNotModified} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				io.WriteString(w, `{}`) //nolint:errcheck // a test's answer
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			res, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			if err == nil {
				t.Fatalf("an append answered %d = %+v, nil; expected an error", code, res)
			}
			if errors.Is(err, ErrBadRequest) {
				t.Fatalf("an append answered %d: %v; expected an error that is no refusal", code, err)
			}
		})
	}
}

// TestSubscribeBoundsALineWithoutEnd: a frame's line was read whole,
// however long, so a server (or anything in front of it) that sent a line
// without end made the client hold all of it: memory without bound. Now a
// frame longer than MaxFrameBytes (default 16 MiB) ends the iteration
// with an error, once that much is read.
func TestSubscribeBoundsALineWithoutEnd(t *testing.T) {
	t.Parallel()
	const most = 128 << 20
	var wrote atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 1\n\nid: 1\ndata: {\"data\":\"") //nolint:errcheck // a test's answer
		writeEndless(w, most, &wrote)
	})
	_, last := subscribeFor(t, srv, 20*time.Second, SubscribeOptions{MinBackoff: time.Millisecond}, 0)
	if n := wrote.Load(); n >= most {
		t.Errorf("the client read a line of %d MiB; expected it to stop near 16 MiB", n>>20)
	}
	if last == nil || errors.Is(last, context.DeadlineExceeded) || !strings.Contains(last.Error(), "MaxFrameBytes") {
		t.Errorf("a line without end ended the subscription with %v; expected an error naming MaxFrameBytes", last)
	}
}

// TestReadFrameBoundsAFrameOfManyLines: the bound is on the frame, not on
// each line: many data lines, joined, are held as one.
func TestReadFrameBoundsAFrameOfManyLines(t *testing.T) {
	t.Parallel()
	in := "\n\n\n" + strings.Repeat("data: 0123456789\n", 1000) + "\n"
	if _, err := readFrame(newFrameReader(strings.NewReader(in)), 10000); !errors.Is(err, errFrameTooLong) {
		t.Errorf("a frame of 17000 bytes with a bound of 10000: %v; expected errFrameTooLong", err)
	}
	f, err := readFrame(newFrameReader(strings.NewReader(in)), 20000)
	if err != nil || len(f.data) != 1000*11-1 {
		t.Errorf("a frame of 17000 bytes with a bound of 20000: %d bytes of data, %v; expected all 10999", len(f.data), err)
	}
}

// TestReadFrameCountsEveryByteOfACRLFFrame: a CR LF line end counted one
// byte against MaxFrameBytes, so a frame of CR LF lines one byte over the
// bound per line passed. A frame of exactly the bound passes, whatever its
// line ends and however its bytes arrive; a byte more is errFrameTooLong,
// the LF of its last CR LF included when it comes in a read after its CR
// (TestReadFrameHoldsMaxFrameBytesExactlyAtEverySplit).
func TestReadFrameCountsEveryByteOfACRLFFrame(t *testing.T) {
	t.Parallel()
	frame := strings.Repeat("data: 0123456789\r\n", 100) + "\r\n"
	for how, tc := range map[string]struct {
		r    func(string) io.Reader
		over int // the bound that the frame is over
	}{
		"whole":          {func(s string) io.Reader { return strings.NewReader(s) }, len(frame) - 1},
		"a byte at once": {func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }, len(frame) - 1},
	} {
		r := tc.r
		if _, err := readFrame(newFrameReader(r(frame)), tc.over); !errors.Is(err, errFrameTooLong) {
			t.Errorf("%s: a frame of %d bytes with a bound of %d: %v; expected errFrameTooLong", how, len(frame), tc.over, err)
		}
		// The frame before it, and the blank lines between, are not its.
		fr := newFrameReader(r(frame + "\r\n\r\n" + frame))
		for i := range 2 {
			if f, err := readFrame(fr, len(frame)); err != nil || len(f.data) != 100*11-1 {
				t.Errorf("%s: frame %d of %d bytes with a bound of %d: %d bytes of data, %v; expected all of it", how, i, len(frame), len(frame), len(f.data), err)
			}
		}
	}
}

// TestProblemKeepsItsTypeWhateverElseIsMissingOrOdd: a problem without a
// status member, or with a member of another JSON type than expected, was
// read as no problem at all, its body the detail: its type was lost, and
// errors.Is matched no Err… value. RFC 9457 makes status advisory and
// says a member of the wrong type is ignored, the others kept.
func TestProblemKeepsItsTypeWhateverElseIsMissingOrOdd(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"no status":             `{"type":"https://tributary.dev/problems/wrong-expected-version","title":"Conflict","detail":"at 7","current_version":7}`,
		"status as a string":    `{"type":"https://tributary.dev/problems/wrong-expected-version","title":"Conflict","status":"409","detail":"at 7","current_version":7}`,
		"version as a string":   `{"type":"https://tributary.dev/problems/wrong-expected-version","title":"Conflict","status":409,"detail":"at 7","current_version":"7"}`,
		"title as a number":     `{"type":"https://tributary.dev/problems/wrong-expected-version","title":409,"status":409,"detail":"at 7","current_version":7}`,
		"version as a fraction": `{"type":"https://tributary.dev/problems/wrong-expected-version","status":409,"detail":"at 7","current_version":7.5}`,
	} {
		res := &http.Response{StatusCode: http.StatusConflict, Header: http.Header{"Content-Type": {"application/problem+json"}},
			Body: io.NopCloser(strings.NewReader(body))}
		p := readProblem(res)
		if !errors.Is(p, ErrWrongExpectedVersion) || p.Status != 409 || p.Detail != "at 7" {
			t.Errorf("%s: read as %+v; expected a 409 that is ErrWrongExpectedVersion, its detail kept", name, p)
		}
	}
}

// sseEvent is the JSON of a log event at position pos: the same event,
// id and all, each time, as a server that sends it again sends it.
func sseEvent(pos int) string { return logEvent("", pos) }

// logEvent is the JSON of the event at position pos of the log named log:
// another log's event at the same position has another id.
func logEvent(log string, pos int) string {
	return eventJSON(uuid.NewSHA1(uuid.NameSpaceURL, []byte(fmt.Sprintf("%s/%d", log, pos))), uuid.New(), 1, pos)
}

// eventJSON is the JSON of an event as the server sends it: of type A, in a
// stream of type order, with empty data.
func eventJSON(id, streamID uuid.UUID, version, position int) string {
	return fmt.Sprintf(`{"id":"%s","stream_id":"%s","stream_type":"order","version":%d,"position":%d,"type":"A","data":{},"recorded_at":"2026-12-04T00:00:00Z"}`,
		id, streamID, version, position)
}

// collectPositions subscribes to srv's log for at most 3 s, until want
// events came, and returns the positions of what it delivered.
func collectPositions(t *testing.T, srv *httptest.Server, want int) []int64 {
	t.Helper()
	msgs, _ := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, want)
	return positions(msgs)
}

// TestSubscribeResumesAfterTheLastEventDeliveredEvenWithoutItsID: the
// resume point was the last frame id read, so an event frame that came
// without an id (a server or proxy that drops them) left it behind, and
// the reconnection delivered again every event since. The events' own
// positions (and versions) are what the ids are by contract.
func TestSubscribeResumesAfterTheLastEventDeliveredEvenWithoutItsID(t *testing.T) {
	t.Parallel()
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
		startEventStream(w)
		// Two events per connection, the second without its id.
		io.WriteString(w, fmt.Sprintf("id: %d\ndata: %s\n\ndata: %s\n\n", after+1, sseEvent(after+1), sseEvent(after+2))) //nolint:errcheck // a test's answer
	})
	got := collectPositions(t, srv, 6)
	if fmt.Sprint(got) != "[1 2 3 4 5 6]" {
		t.Errorf("received positions %v; expected 1 to 6, each once", got)
	}
}

// TestSubscribeDeliversNoEventTwiceWhenTheServerRepeatsIt: events whose
// ids went backwards or repeated, within a connection or after a
// reconnection to a server that ignores Last-Event-ID (a proxy that drops
// the header), were delivered again. Positions (versions) only grow along
// a subscription: one at or below the last delivered is a repeat.
func TestSubscribeDeliversNoEventTwiceWhenTheServerRepeatsIt(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := int(conns.Add(1))
		startEventStream(w)
		// From the start whatever the Last-Event-ID, a repeat and a step
		// back, and the log on, one event longer than at the last
		// connection.
		positions := []int{1, 2, 2, 1}
		for pos := 3; pos <= n+2; pos++ {
			positions = append(positions, pos)
		}
		for _, pos := range positions {
			io.WriteString(w, fmt.Sprintf("id: %d\ndata: %s\n\n", pos, sseEvent(pos))) //nolint:errcheck // a test's answer
		}
	})
	got := collectPositions(t, srv, 5)
	if fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Errorf("received positions %v; expected 1 to 5, each once", got)
	}
}

// TestSubscribeWaitsOutARetryFieldFarAhead: a retry: field of more
// milliseconds than a Duration holds in nanoseconds overflowed, to a
// negative that was ignored or a wrapped value of any size, and the client
// came back as soon as its backoff allowed, not after the server's wait.
// It then waited what was asked, centuries, which parked the subscription
// for good: the wait is now bounded by maxServerWait, and the caller's
// context still ends it at once.
func TestSubscribeWaitsOutARetryFieldFarAhead(t *testing.T) {
	t.Parallel()
	for _, retry := range []string{"10000000000000", "9223372036854775807", "18446744073709552", "86400000"} {
		t.Run(retry, func(t *testing.T) {
			t.Parallel()
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "retry: "+retry+"\n\n") //nolint:errcheck // a test's answer
			})
			waits := subscribeWaits(t, srv, SubscribeOptions{MinBackoff: time.Millisecond})
			if len(waits) != 1 || waits[0] < maxServerWait*4/5 || waits[0] > maxServerWait {
				t.Errorf("retry: %s; Subscribe waited %v; expected one wait of %v to %v", retry, waits[:min(len(waits), 3)], maxServerWait*4/5, maxServerWait)
			}
		})
	}
}

// TestSubscribeWaitsOutA429Or408: a 429 Too Many Requests (a rate limit in
// front of the server) and a 408 Request Timeout say to come back later,
// the first with a Retry-After, but Subscribe took every answer below 500
// for one retrying cannot fix, and ended.
func TestSubscribeWaitsOutA429Or408(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusTooManyRequests, http.StatusRequestTimeout} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				if requests.Add(1) == 1 {
					w.Header().Set("Retry-After", "0")
					w.WriteHeader(code)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
			})
			if got := collectPositions(t, srv, 1); fmt.Sprint(got) != "[1]" {
				t.Errorf("after a %d, received %v; expected the subscription to come back and get position 1", code, got)
			}
		})
	}
}

// endlessJSON answers code with a JSON object whose first string never
// ends, up to most bytes, and counts what it wrote.
func endlessJSON(t *testing.T, code int, most int64, wrote *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, `{"stream_id":"`) //nolint:errcheck // a test's answer
		writeEndless(w, most, wrote)
	})
	return srv
}

// writeEndless writes a's to w, a MiB at a time, until most bytes are
// written or the client goes, counting them in wrote.
func writeEndless(w http.ResponseWriter, most int64, wrote *atomic.Int64) {
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for wrote.Load() < most {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		wrote.Add(int64(len(chunk)))
	}
}

// TestAppendAndStreamBoundTheAnswerTheyRead: the answer to an append, or
// to a stream's description, was decoded whole, however long: a server
// that sent one without end made the client hold all of it.
func TestAppendAndStreamBoundTheAnswerTheyRead(t *testing.T) {
	t.Parallel()
	const most = 64 << 20
	for name, call := range map[string]func(*Client) error{
		"Append": func(c *Client) error {
			_, err := c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			return err
		},
		"Stream": func(c *Client) error {
			_, err := c.Stream(context.Background(), uuid.New())
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var wrote atomic.Int64
			code := http.StatusOK
			if name == "Append" {
				code = http.StatusCreated
			}
			c := newClient(t, endlessJSON(t, code, most, &wrote).URL)
			if err := call(c); err == nil {
				t.Errorf("%s of an answer without end: no error", name)
			}
			if n := wrote.Load(); n >= most {
				t.Errorf("%s read an answer of %d MiB; expected it to stop within a few", name, n>>20)
			}
		})
	}
}

// TestAnAnswerWhoseEndStallsDoesNotHoldTheCall: once the JSON value is
// read, the rest of an answer was drained until its end, for the
// connection's sake, without a bound in time: an append answered in full
// whose body then stalled (a proxy that holds the last chunk) did not
// return until its context ended, never with context.Background(); nor
// did a read whose consumer stopped early.
func TestAnAnswerWhoseEndStallsDoesNotHoldTheCall(t *testing.T) {
	t.Parallel()
	c := clientOfAnAnswerThatStalls(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, storedAnswer(t, r)) //nolint:errcheck // a test's answer
		} else {
			w.Header().Set("Link", `</events?after=9>; rel="next"`)
			io.WriteString(w, `{"events":[`+sseEvent(1)+","+sseEvent(2)+"]}") //nolint:errcheck // a test's answer
		}
	})
	eachReturnsBeforeTheEnd(t, "answer", "success", func(err error) bool { return err == nil }, map[string]func() error{
		"Append": func() error {
			_, err := c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			return err
		},
		"ReadAll stopped after its first event": func() error {
			for _, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
				return err
			}
			return nil
		},
	})
}

// clientOfAnAnswerThatStalls returns a client of a server that answers
// with answer, flushes it, and then holds the answer's end until the test
// ends or the client goes.
func clientOfAnAnswerThatStalls(t *testing.T, answer http.HandlerFunc) *Client {
	t.Helper()
	stall := make(chan struct{})
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, r)
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(stall) })
	return newClient(t, srv.URL)
}

// eachReturnsBeforeTheEnd runs each call and fails t unless it returns,
// within a generous 5 s of what came (the "answer", the "problem"), an
// error ok accepts (what expected names).
func eachReturnsBeforeTheEnd(t *testing.T, came, expected string, ok func(error) bool, calls map[string]func() error) {
	t.Helper()
	for name, call := range calls {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if !ok(err) {
				t.Errorf("%s: %v; expected %s", name, err, expected)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s has not returned 5 s after its %s came; expected it to return without waiting for the answer's end", name, came)
		}
	}
}

// TestAppendRefusesAnAnswerThatIsNotItsBatch: a 201 or 200 whose JSON
// did not describe the batch sent (no events, other ids, another stream)
// was returned as the result, so a caller that took res.Events[i] for its
// i-th event panicked or read another's.
func TestAppendRefusesAnAnswerThatIsNotItsBatch(t *testing.T) {
	t.Parallel()
	id, ev := uuid.New(), uuid.New()
	recorded := func(stream, event uuid.UUID, version int) string {
		return fmt.Sprintf(`{"stream_id":"%s","stream_type":"order","version":%d,"events":[{"id":"%s","version":%d,"position":7,"recorded_at":"2026-12-04T00:00:00Z"}]}`,
			stream, version, event, version)
	}
	for name, body := range map[string]string{
		"an empty object":    `{}`,
		"no events":          `{"stream_id":"` + id.String() + `","stream_type":"order","version":1,"events":[]}`,
		"another event":      recorded(id, uuid.New(), 1),
		"another stream":     recorded(uuid.New(), ev, 1),
		"a version below it": recorded(id, ev, 0),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				io.WriteString(w, body) //nolint:errcheck // a test's answer
			})
			if res, err := c.Append(context.Background(), StreamRef{ID: id, Type: "order"}, Any, NewEvent{ID: ev, Type: "A", Data: 1}); err == nil {
				t.Errorf("a 201 with %s = %+v, nil; expected an error", body, res)
			}
		})
	}
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, recorded(id, ev, 1)) //nolint:errcheck // a test's answer
	})
	if _, err := c.Append(context.Background(), StreamRef{ID: id, Type: "order"}, Any, NewEvent{ID: ev, Type: "A", Data: 1}); err != nil {
		t.Errorf("a 201 that describes the batch: %v", err)
	}
}

// TestAppendRefusesVersionsAndPositionsThatDoNotAddUp: Append checked the
// answer's ids and that its versions ran consecutively up to the stream's,
// but not that a 201 started from the version expected (Exactly(3) answered
// at versions 1 and 2, NoStream at 5), nor the positions (the same twice,
// going back, none), nor the stream type: a wrong answer was returned as
// the result, and a caller that keeps the version or the position (its
// next expected version, a subscription's starting point) went on from a
// place the stream or the log is not at. A 200, a retry's, answers with
// the batch's first result, which the server gives whatever the retry
// expects: its versions are not held to it.
func TestAppendRefusesVersionsAndPositionsThatDoNotAddUp(t *testing.T) {
	t.Parallel()
	id, a, b := uuid.New(), uuid.New(), uuid.New()
	answer := func(streamType string, versions, positions [2]int) string {
		return fmt.Sprintf(`{"stream_id":"%s","stream_type":%q,"version":%d,"events":[`+
			`{"id":"%s","version":%d,"position":%d,"recorded_at":"2026-12-04T00:00:00Z"},`+
			`{"id":"%s","version":%d,"position":%d,"recorded_at":"2026-12-04T00:00:00Z"}]}`,
			id, streamType, versions[1], a, versions[0], positions[0], b, versions[1], positions[1])
	}
	for name, tc := range map[string]struct {
		status   int
		expected ExpectedVersion
		body     string
		ok       bool
	}{
		"exactly 3, at 4 and 5":               {201, Exactly(3), answer("order", [2]int{4, 5}, [2]int{7, 9}), true},
		"exactly 3, at 1 and 2":               {201, Exactly(3), answer("order", [2]int{1, 2}, [2]int{7, 9}), false},
		"exactly 3, at 5 and 6":               {201, Exactly(3), answer("order", [2]int{5, 6}, [2]int{7, 9}), false},
		"no stream, at 1 and 2":               {201, NoStream, answer("order", [2]int{1, 2}, [2]int{7, 9}), true},
		"no stream, at 5 and 6":               {201, NoStream, answer("order", [2]int{5, 6}, [2]int{7, 9}), false},
		"stream exists, at 1 and 2":           {201, StreamExists, answer("order", [2]int{1, 2}, [2]int{7, 9}), false},
		"stream exists, at 2 and 3":           {201, StreamExists, answer("order", [2]int{2, 3}, [2]int{7, 9}), true},
		"a retry's 200, at 1 and 2":           {200, Exactly(3), answer("order", [2]int{1, 2}, [2]int{7, 9}), true},
		"the same position twice":             {201, Any, answer("order", [2]int{1, 2}, [2]int{7, 7}), false},
		"positions going back":                {201, Any, answer("order", [2]int{1, 2}, [2]int{9, 7}), false},
		"a retry's 200, positions going back": {200, Any, answer("order", [2]int{1, 2}, [2]int{9, 7}), false},
		"no position":                         {201, Any, answer("order", [2]int{1, 2}, [2]int{0, 7}), false},
		"another stream type":                 {201, Any, answer("cart", [2]int{1, 2}, [2]int{7, 9}), false},
		"a retry's 200, another stream type":  {200, Any, answer("cart", [2]int{1, 2}, [2]int{7, 9}), false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body) //nolint:errcheck // a test's answer
			})
			res, err := c.Append(context.Background(), StreamRef{ID: id, Type: "order"}, tc.expected,
				NewEvent{ID: a, Type: "A", Data: 1}, NewEvent{ID: b, Type: "B", Data: 2})
			if tc.ok && err != nil {
				t.Errorf("a %d of %s expecting %s: %v; expected the result", tc.status, tc.body, tc.expected, err)
			}
			if !tc.ok && err == nil {
				t.Errorf("a %d of %s expecting %s = %+v, nil; expected an error", tc.status, tc.body, tc.expected, res)
			}
		})
	}
}

// storedAnswer is the answer of a server that stored the append r, to a
// new stream.
func storedAnswer(t *testing.T, r *http.Request) string {
	t.Helper()
	var req struct {
		Events []struct {
			ID uuid.UUID `json:"id"`
		} `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		t.Errorf("the append's body: %v", err)
	}
	var events []string
	for i, e := range req.Events {
		events = append(events, fmt.Sprintf(`{"id":"%s","version":%d,"position":%d,"recorded_at":"2026-12-04T00:00:00Z"}`, e.ID, i+1, i+1))
	}
	return fmt.Sprintf(`{"stream_id":"%s","stream_type":"order","version":%d,"events":[%s]}`,
		path.Base(path.Dir(r.URL.Path)), len(events), strings.Join(events, ","))
}

// TestSubscribeBacksOffFromAServerThatAcceptsAndDrops: any frame reset the
// backoff, and the server's first frame is always retry:, so a server that
// accepted each subscription and dropped it at once (after its retry:,
// a caught-up, a keep-alive) was called again at MinBackoff forever,
// never less often: with a small MinBackoff, a hot loop.
func TestSubscribeBacksOffFromAServerThatAcceptsAndDrops(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 1\n\nevent: caught-up\ndata: 0\n\n: keep-alive\n\n") //nolint:errcheck // a test's answer
	})
	_, _ = subscribeFor(t, srv, 500*time.Millisecond, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 100 * time.Millisecond}, 0) // what counts is the requests it sent
	// Doubling from 1 ms to 100 ms, jittered down to half: about a dozen.
	if n := requests.Load(); n > 30 {
		t.Errorf("%d subscriptions in 500 ms to a server that drops each at once; expected the backoff to grow, to about a dozen", n)
	}
}

// TestReadsEndAtAPageThatDoesNotMoveOn: ReadAll and ReadStream followed
// next links as they came, so a server whose next link led back to a page
// already read (or whose pages repeated events) had them request pages
// back to back forever, yielding the same events again and again.
func TestReadsEndAtAPageThatDoesNotMoveOn(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	event := func(v int) string {
		return eventJSON(uuid.New(), stream, v, v)
	}
	for name, tc := range map[string]struct {
		link  string
		pages func(r *http.Request) []int
	}{
		"the same link":           {`</events?after=0>; rel="next"`, func(*http.Request) []int { return []int{1, 2} }},
		"events again":            {`</events?after=2>; rel="next"`, func(r *http.Request) []int { return []int{1, 2} }},
		"no event, the same link": {`</events?after=0>; rel="next"`, func(*http.Request) []int { return nil }},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				var evs []string
				for _, v := range tc.pages(r) {
					evs = append(evs, event(v))
				}
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Link", strings.Replace(tc.link, "/events", r.URL.Path, 1))
				io.WriteString(w, `{"events":[`+strings.Join(evs, ",")+`]}`) //nolint:errcheck // a test's answer
			})
			c.standStill = 50 * time.Millisecond // an empty page at the same place is asked again, this long
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for what, seq := range map[string]iter.Seq2[Event, error]{
				"ReadAll":    c.ReadAll(ctx, ReadAllOptions{}),
				"ReadStream": c.ReadStream(ctx, stream, ReadStreamOptions{}),
			} {
				var got []int64
				var last error
				for e, err := range seq {
					if err != nil {
						last = err
						break
					}
					if got = append(got, e.Version); len(got) > 10 {
						break
					}
				}
				if len(got) > 2 || last == nil || errors.Is(last, context.DeadlineExceeded) {
					t.Errorf("%s: read %v, then %v; expected at most versions 1 and 2, then an error", what, got[:min(len(got), 5)], last)
				}
			}
			if n := requests.Load(); n > 10 {
				t.Errorf("%d requests; expected a few", n)
			}
		})
	}
}

// TestSubscribeDeliversNothingAfterItsContextEnds: events the client had
// already read into its buffers were still delivered after ctx was
// cancelled, every one of them, before the iteration ended with ctx's
// error: a consumer that cancelled on shutdown went on handling events.
func TestSubscribeDeliversNothingAfterItsContextEnds(t *testing.T) {
	t.Parallel()
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		var b strings.Builder
		for pos := 1; pos <= 20; pos++ {
			fmt.Fprintf(&b, "id: %d\ndata: %s\n\n", pos, sseEvent(pos))
		}
		io.WriteString(w, b.String()) //nolint:errcheck // a test's answer
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []int64
	var last error
	for m, err := range c.Subscribe(ctx, SubscribeOptions{}) {
		if err != nil {
			last = err
			break
		}
		got = append(got, m.Event.Position)
		if m.Event.Position == 2 {
			cancel()
		}
	}
	if fmt.Sprint(got) != "[1 2]" || !errors.Is(last, context.Canceled) {
		t.Errorf("cancelled after position 2, the subscription delivered %v and ended with %v; expected [1 2], then context.Canceled", got, last)
	}
}

// TestReadsDeliverNothingAfterTheirContextEnds: the rest of a page already
// read was still delivered after ctx was cancelled, up to a thousand
// events, and the iteration then ended without an error.
func TestReadsDeliverNothingAfterTheirContextEnds(t *testing.T) {
	t.Parallel()
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		var evs []string
		for pos := 1; pos <= 20; pos++ {
			evs = append(evs, sseEvent(pos))
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"events":[`+strings.Join(evs, ",")+`]}`) //nolint:errcheck // a test's answer
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []int64
	var last error
	for e, err := range c.ReadAll(ctx, ReadAllOptions{}) {
		if err != nil {
			last = err
			break
		}
		got = append(got, e.Position)
		if e.Position == 2 {
			cancel()
		}
	}
	if fmt.Sprint(got) != "[1 2]" || !errors.Is(last, context.Canceled) {
		t.Errorf("cancelled after position 2, ReadAll delivered %v and ended with %v; expected [1 2], then context.Canceled", got, last)
	}
}

// TestReadsBoundThePageTheyRead: a page was decoded whole, however long,
// so a server that sent one without end (an events array that never
// closes) made the client hold all of it. A page past MaxPageBytes now
// ends the iteration with an error, once that much is read.
func TestReadsBoundThePageTheyRead(t *testing.T) {
	t.Parallel()
	const most = 64 << 20
	var wrote atomic.Int64
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"events":[`+sseEvent(1)) //nolint:errcheck // a test's answer
		chunk := []byte(strings.Repeat(","+sseEvent(2), 1<<20/len(sseEvent(2))))
		for wrote.Load() < most {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			wrote.Add(int64(len(chunk)))
		}
	})
	var last error
	for _, err := range c.ReadAll(context.Background(), ReadAllOptions{MaxPageBytes: 1 << 20}) {
		if err != nil {
			last = err
			break
		}
	}
	if n := wrote.Load(); n >= most {
		t.Errorf("ReadAll read a page of %d MiB with MaxPageBytes 1 MiB; expected it to stop near 1 MiB", n>>20)
	}
	if last == nil || !strings.Contains(last.Error(), "MaxPageBytes") {
		t.Errorf("a page without end ended the read with %v; expected an error naming MaxPageBytes", last)
	}
}

// TestSubscribeResumesOnAnInstanceWhoseReplicaIsBehind: behind a load
// balancer, instances that read from replicas may be behind one another;
// a reconnection that reached one whose replica had not yet applied the
// last event delivered was a 409 starting-point-ahead, and the
// subscription ended for good. The server waits for a position given in
// Tributary-Min-Position (docs/scaling.md), so a resumption sends the last
// delivered event's position there.
func TestSubscribeResumesOnAnInstanceWhoseReplicaIsBehind(t *testing.T) {
	t.Parallel()
	eachSubscription(t, SubscribeOptions{MinBackoff: time.Millisecond}, func(t *testing.T, stream bool, id uuid.UUID, opts SubscribeOptions) {
		ids := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
		place := func(n int) int { // the frame's id
			if stream {
				return n
			}
			return 10 * n
		}
		frame := func(n int) string {
			return fmt.Sprintf("id: %d\ndata: %s\n\n", place(n), eventJSON(ids[n-1], id, n, 10*n))
		}
		var conns atomic.Int64
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			first := conns.Add(1) == 1
			if !first && r.Header.Get("Tributary-Min-Position") != "20" {
				// The other instance: its replica has applied only the first event.
				writeProblem(w, http.StatusConflict, `{"type":"https://tributary.dev/problems/starting-point-ahead","title":"Starting point ahead","status":409,"requested":2,"current":1}`)
				return
			}
			startEventStream(w)
			after, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
			last := 3 // the instance that was behind has the third
			if first {
				last = 2
			}
			for n := 1; n <= last; n++ {
				if place(n) > after {
					io.WriteString(w, frame(n)) //nolint:errcheck // a test's answer
				}
			}
		})
		msgs, last := subscribeFor(t, srv, 30*time.Second, opts, 3)
		if got := versions(msgs); fmt.Sprint(got) != "[1 2 3]" {
			t.Errorf("received versions %v, then %v; expected 1 to 3, the third from the instance that was behind", got, last)
		}
	})
}

// eachSubscription runs test as two parallel subtests, stream=false and
// stream=true: with opts as they are (a subscription to the log), and with
// opts.StreamID set to id (a subscription to that stream).
func eachSubscription(t *testing.T, opts SubscribeOptions, test func(t *testing.T, stream bool, id uuid.UUID, opts SubscribeOptions)) {
	t.Helper()
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			t.Parallel()
			id := uuid.New()
			opts := opts
			if stream {
				opts.StreamID = id
			}
			test(t, stream, id, opts)
		})
	}
}

// TestAnErrorAnswerWhoseEndStallsDoesNotHoldTheCall: the sibling of
// TestAnAnswerWhoseEndStallsDoesNotHoldTheCall for error answers. A problem
// answered in full whose body then stalls (a server or proxy holding the
// last chunk) was read to its end before the call returned: an Append or a
// read with context.Background() never returned, though the problem was
// there. Found by reviewing da6049d, whose bound in time covers only the
// drain after a success.
func TestAnErrorAnswerWhoseEndStallsDoesNotHoldTheCall(t *testing.T) {
	t.Parallel()
	c := clientOfAnAnswerThatStalls(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusConflict, `{"type":"https://tributary.dev/problems/wrong-expected-version","title":"Wrong expected version","status":409,"expected_version":1,"current_version":2}`)
	})
	wrongVersion := func(err error) bool { return errors.Is(err, ErrWrongExpectedVersion) }
	eachReturnsBeforeTheEnd(t, "problem", "the 409's problem, ErrWrongExpectedVersion", wrongVersion, map[string]func() error{
		"Append": func() error {
			_, err := c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Exactly(1), NewEvent{ID: uuid.New(), Type: "A", Data: 1})
			return err
		},
		"ReadAll": func() error {
			for _, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
				return err
			}
			return nil
		},
	})
}

// subscribeWaits subscribes to srv with opts (their OnDisconnect replaced)
// until its first disconnection, which
// cancels the subscription, and returns each wait Subscribe said it would
// make before it came back (OnDisconnect's): one, unless it came back
// before that wait. It fails t if the cancellation, made as the wait
// begins, did not end the subscription within a generous safety bound (a
// wait of the server's, minutes long, waited out rather than ended).
func subscribeWaits(t *testing.T, srv *httptest.Server, opts SubscribeOptions) []time.Duration {
	t.Helper()
	c := newClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	var cancelled time.Time
	opts.OnDisconnect = func(_ error, retryIn time.Duration) {
		if waits = append(waits, retryIn); len(waits) == 1 {
			cancelled = time.Now()
			cancel()
		}
	}
	for _, err := range c.Subscribe(ctx, opts) {
		if err != nil {
			break
		}
	}
	if took := time.Since(cancelled); len(waits) > 0 && took > 30*time.Second {
		t.Errorf("the subscription ended %v after its context was cancelled; expected the cancellation to end its wait at once", took.Round(time.Millisecond))
	}
	return waits
}

// TestSubscribeReportsALogThatWentBackRatherThanDropIt: an event at or
// below the last one delivered was dropped as a repeat whatever it was,
// so after a database reset (the log starting again at 1, on the same
// connection or after a reconnection to a server that replays) every
// event of the new log up to the old position was dropped without a word.
// A repeat is now only the event delivered at that place, same id; any
// other ends the iteration with ErrLogReset, delivered nothing of it.
func TestSubscribeReportsALogThatWentBackRatherThanDropIt(t *testing.T) {
	t.Parallel()
	for name, frames := range map[string]func(conn int) []string{
		// 1 to 3, then the new log's 1 and 2 live on the same connection.
		"on one connection": func(int) []string {
			return []string{logEvent("old", 1), logEvent("old", 2), logEvent("old", 3), logEvent("new", 1), logEvent("new", 2)}
		},
		// 1 to 3; the server then comes back on a new log, and replays it.
		"after a reconnection": func(conn int) []string {
			if conn == 1 {
				return []string{logEvent("old", 1), logEvent("old", 2), logEvent("old", 3)}
			}
			return []string{logEvent("new", 1), logEvent("new", 2), logEvent("new", 3), logEvent("new", 4)}
		},
		// A repeat of the last event is dropped; the new log's 3 is not it.
		"at the last position delivered": func(int) []string {
			return []string{logEvent("old", 1), logEvent("old", 2), logEvent("old", 3), logEvent("old", 3), logEvent("new", 3)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var conns atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(conns.Add(1))
				startEventStream(w)
				for _, e := range frames(n) {
					io.WriteString(w, "data: "+e+"\n\n") //nolint:errcheck // a test's answer
				}
			})
			msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 0)
			if got := positions(msgs); fmt.Sprint(got) != "[1 2 3]" || !errors.Is(last, ErrLogReset) {
				t.Errorf("received %v, then %v; expected 1 to 3 once each, then ErrLogReset", got, last)
			}
		})
	}
}

// TestSubscribeResumesThroughAProxyThatDropsLastEventID: a resumption
// said where to resume only in Last-Event-ID, so through a proxy that
// drops the header the server started again from the subscription's
// first starting point, and a subscription whose connections each
// brought two events met the same two for ever. The query (after, from)
// now says it too.
func TestSubscribeResumesThroughAProxyThatDropsLastEventID(t *testing.T) {
	t.Parallel()
	eachSubscription(t, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, func(t *testing.T, stream bool, id uuid.UUID, opts SubscribeOptions) {
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			start := 1
			if stream {
				if from := r.URL.Query().Get("from"); from != "" {
					start, _ = strconv.Atoi(from)
				}
			} else {
				after, _ := strconv.Atoi(r.URL.Query().Get("after"))
				start = after + 1
			}
			startEventStream(w)
			for n := start; n < start+2; n++ {
				e := eventJSON(uuid.NewSHA1(uuid.NameSpaceURL, []byte(strconv.Itoa(n))), id, n, n)
				io.WriteString(w, "data: "+e+"\n\n") //nolint:errcheck // a test's answer
			}
		})
		msgs, last := subscribeFor(t, srv, 30*time.Second, opts, 6)
		if got := versions(msgs); fmt.Sprint(got) != "[1 2 3 4 5 6]" {
			t.Errorf("received %v, then %v; expected 1 to 6, each once", got, last)
		}
	})
}

// TestSubscribeSurvivesAnswersThatAreNotTributarysAndEndsOnItsRefusals:
// any answer below 500 but a 408 or a 429 ended a subscription for good,
// and so did a 200 that was no event stream, whoever sent it: a proxy's
// maintenance page (a 404, or a 200 of HTML) or its 401, 403 or 400 in
// plain text ended a subscription that would have resumed once the
// window closed. Now only Tributary's own refusals (a problem+json of
// its problem types) end it; anything else is waited out with backoff,
// but for an answer about the request itself, such as a plain 401, which
// ends it whoever sends it (TestSubscribeEndsOnWhatNoRetryMendsAndWaitsOutTheRest).
func TestSubscribeSurvivesAnswersThatAreNotTributarysAndEndsOnItsRefusals(t *testing.T) {
	t.Parallel()
	ours := func(status int, slug string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			writeProblem(w, status, fmt.Sprintf(`{"type":"https://tributary.dev/problems/%s","title":"Refused","status":%d,"detail":"no"}`, slug, status))
		}
	}
	theirs := func(status int, contentType, body string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			io.WriteString(w, body) //nolint:errcheck // a test's answer
		}
	}
	const maintenance = "<html><body><h1>Down for maintenance</h1></body></html>"
	for name, tc := range map[string]struct {
		first func(w http.ResponseWriter)
		ends  error // nil: the subscription comes back and gets position 1
	}{
		"a proxy's 404 page":                    {first: theirs(http.StatusNotFound, "text/html", maintenance)},
		"a proxy's 200 page":                    {first: theirs(http.StatusOK, "text/html; charset=utf-8", maintenance)},
		"a 200 of JSON":                         {first: theirs(http.StatusOK, "application/json", `{"status":"maintenance"}`)},
		"a proxy's 403":                         {first: theirs(http.StatusForbidden, "text/plain", "Forbidden")},
		"a proxy's 400":                         {first: theirs(http.StatusBadRequest, "text/html", "<h1>400 Bad Request</h1>")},
		"a 404 problem of another type":         {first: theirs(http.StatusNotFound, "application/problem+json", `{"type":"about:blank","title":"Not Found","status":404}`)},
		"Tributary's type, not as problem+json": {first: theirs(http.StatusNotFound, "text/html", `{"type":"https://tributary.dev/problems/not-found","title":"Not found","status":404}`)},
		"Tributary's 400":                       {first: ours(http.StatusBadRequest, "bad-request"), ends: ErrBadRequest},
		"Tributary's 401":                       {first: ours(http.StatusUnauthorized, "unauthorized"), ends: ErrUnauthorized},
		"Tributary's 403":                       {first: ours(http.StatusForbidden, "forbidden"), ends: ErrForbidden},
		"Tributary's 404":                       {first: ours(http.StatusNotFound, "not-found"), ends: ErrNotFound},
		"Tributary's 409":                       {first: ours(http.StatusConflict, "starting-point-ahead"), ends: ErrStartingPointAhead},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				if requests.Add(1) == 1 {
					tc.first(w)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
			})
			msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond}, 1)
			got := positions(msgs)
			if tc.ends == nil && fmt.Sprint(got) != "[1]" {
				t.Errorf("received %v, then %v; expected the subscription to wait it out and get position 1", got, last)
			}
			if tc.ends != nil && (!errors.Is(last, tc.ends) || requests.Load() != 1) {
				t.Errorf("received %v, then %v after %d requests; expected the first answer to end it with %v", got, last, requests.Load(), tc.ends)
			}
		})
	}
}

// TestSubscribeEndsAtACaughtUpThatIsNoNumber: a caught-up frame whose data
// was not a version or position dropped the connection, and the
// reconnection met the same frame again: Subscribe came back for ever,
// delivering nothing more and telling the consumer nothing but
// OnDisconnect. Such a frame is not Tributary's protocol, and reconnecting
// cannot fix it: the iteration ends with an error naming it, after every
// event before it.
func TestSubscribeEndsAtACaughtUpThatIsNoNumber(t *testing.T) {
	t.Parallel()
	for _, data := range []string{"soon", "", "-1", "3.5", "99999999999999999999"} {
		t.Run(data, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+sseEvent(1)+"\n\nevent: caught-up\ndata: "+data+"\n\n") //nolint:errcheck // a test's answer
			})
			got, last := subscribeFor(t, srv, time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 0)
			if len(got) != 1 || got[0].CaughtUp || got[0].Event.Position != 1 {
				t.Errorf("received %d messages; expected the event at position 1 alone", len(got))
			}
			if last == nil || errors.Is(last, context.DeadlineExceeded) || !strings.Contains(last.Error(), "caught-up") {
				t.Errorf("caught-up with data %q: ended with %v after %d requests; expected an error naming the caught-up frame", data, last, requests.Load())
			}
			if n := requests.Load(); n != 1 {
				t.Errorf("caught-up with data %q: %d requests; expected 1", data, n)
			}
		})
	}
}

// TestReadsEndAtNextLinksThatGoRound: only a next link back to the page
// just read was caught, so empty pages whose links went round two or
// more pages (after=1 → after=2 → after=1 …) had ReadAll and ReadStream
// request them back to back for ever. A cycle of any length now ends the
// read with an error (at its link back: TestReadsEndAtANextLinkThatDoesNotMoveOn);
// links that move on, empty pages or not, do not.
func TestReadsEndAtNextLinksThatGoRound(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	for name, tc := range map[string]struct {
		next   func(after int) int // the next link's after; 0: no next link
		events bool                // the last page holds an event
	}{
		"two pages":                     {next: func(a int) int { return 1 + a%2 }},
		"three pages":                   {next: func(a int) int { return 1 + a%3 }},
		"a cycle of 50 after 20":        {next: func(a int) int { return map[bool]int{true: 21, false: a + 1}[a == 70] }},
		"300 empty pages, then the end": {next: func(a int) int { return (a + 1) % 301 }, events: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				after, _ := strconv.Atoi(r.URL.Query().Get("after"))
				if from := r.URL.Query().Get("from"); from != "" {
					after, _ = strconv.Atoi(from)
					after-- // a stream's page from a version holds it
				}
				next := tc.next(after)
				body := `{"events":[]}`
				if next != 0 {
					w.Header().Set("Link", fmt.Sprintf(`<%s?after=%d&from=%d>; rel="next"`, r.URL.Path, next, next+1))
				} else if tc.events {
					// Past the page's after: at its place in the log, and,
					// at version 1, before its from in a stream.
					body = `{"events":[` + eventJSON(uuid.New(), stream, 1, after+1) + `]}`
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, body) //nolint:errcheck // a test's answer
			})
			for what, read := range map[string]func(ctx context.Context) iter.Seq2[Event, error]{
				"ReadAll": func(ctx context.Context) iter.Seq2[Event, error] { return c.ReadAll(ctx, ReadAllOptions{}) },
				"ReadStream": func(ctx context.Context) iter.Seq2[Event, error] {
					return c.ReadStream(ctx, stream, ReadStreamOptions{})
				},
			} {
				requests.Store(0)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				seq := read(ctx)
				var got int
				var last error
				for _, err := range seq {
					if err != nil {
						last = err
						break
					}
					got++
				}
				if tc.events && what == "ReadStream" {
					// A stream's page is empty only past its end: version 1
					// on a page at from=301 is no answer to its link.
					if got != 0 || last == nil || !strings.Contains(last.Error(), "from=301") {
						t.Errorf("%s: %d events, then %v; expected an error naming the page's from=301", what, got, last)
					}
					continue
				}
				if tc.events {
					if got != 1 || last != nil {
						t.Errorf("%s: %d events, then %v; expected the one event at the end of the chain", what, got, last)
					}
					continue
				}
				if last == nil || errors.Is(last, context.DeadlineExceeded) || !strings.Contains(last.Error(), "does not move on") {
					t.Errorf("%s: ended with %v after %d requests; expected an error saying the link back does not move on", what, last, requests.Load())
				}
				if n := requests.Load(); n > 500 {
					t.Errorf("%s: %d requests; expected the cycle found within a few of its rounds", what, n)
				}
			}
		})
	}
}

// TestReadsEndAtANextLinkThatDoesNotMoveOn: only next links that went
// round in a cycle, as strings, were caught, so a server (a hostile or a
// broken one) that answered empty pages whose next link never moved on,
// each a new string (the same after with another parameter, or going
// back and forth with one that counts), had ReadAll and ReadStream
// request pages back to back until ctx ended, which context.Background()
// never does. A next link now must start past the page it came with, and
// not before the last event read (after for the log, from for a stream,
// down from it backward), or the read ends with an error saying so.
func TestReadsEndAtANextLinkThatDoesNotMoveOn(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	for name, tc := range map[string]struct {
		link   func(at, n int) int // the next link's place, from the page's place and a count of pages
		events []int               // the first page's events' places
		back   bool                // a backward stream read, from 50
	}{
		"the same place":               {link: func(at, n int) int { return at }},
		"going back":                   {link: func(at, n int) int { return at - 1 + 2*(n%2) }},
		"before the events read":       {link: func(at, n int) int { return 2 }, events: []int{1, 2, 3}},
		"backward, the same place":     {link: func(at, n int) int { return at }, back: true},
		"backward, going back up":      {link: func(at, n int) int { return at + 1 - 2*(n%2) }, back: true},
		"backward, at an event read":   {link: func(at, n int) int { return 49 }, events: []int{50, 49, 48}, back: true},
		"no place: back to the start":  {link: func(at, n int) int { return -1 }, events: []int{1, 2, 3}},
		"backward, no place: the head": {link: func(at, n int) int { return -1 }, events: []int{50, 49, 48}, back: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				n := int(requests.Add(1))
				param := "after"
				if strings.HasPrefix(r.URL.Path, "/streams/") {
					param = "from"
				}
				at, _ := strconv.Atoi(r.URL.Query().Get(param))
				var evs []string
				if n == 1 {
					for _, v := range tc.events {
						evs = append(evs, eventJSON(uuid.New(), stream, v, v))
					}
				}
				// pad makes each link a new string: no cycle of links.
				q := fmt.Sprintf("pad=%d", n)
				if next := tc.link(at, n); next >= 0 {
					q = fmt.Sprintf("%s=%d&%s", param, next, q)
				}
				w.Header().Set("Link", "<"+r.URL.Path+"?"+q+`>; rel="next"`)
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"events":[`+strings.Join(evs, ",")+`]}`) //nolint:errcheck // a test's answer
			})
			c.standStill = 50 * time.Millisecond // an empty page at the same place is asked again, this long
			reads := map[string]func(ctx context.Context) iter.Seq2[Event, error]{
				"ReadAll": func(ctx context.Context) iter.Seq2[Event, error] { return c.ReadAll(ctx, ReadAllOptions{After: 20}) },
				"ReadStream": func(ctx context.Context) iter.Seq2[Event, error] {
					return c.ReadStream(ctx, stream, ReadStreamOptions{From: 1})
				},
			}
			if tc.back {
				reads = map[string]func(ctx context.Context) iter.Seq2[Event, error]{
					"ReadStream backward": func(ctx context.Context) iter.Seq2[Event, error] {
						return c.ReadStream(ctx, stream, ReadStreamOptions{From: 50, Direction: Backward})
					},
				}
			}
			if tc.events != nil && !tc.back {
				delete(reads, "ReadAll") // its events are at 1, 2, 3: before After
				reads["ReadAll from the start"] = func(ctx context.Context) iter.Seq2[Event, error] { return c.ReadAll(ctx, ReadAllOptions{}) }
			}
			for what, read := range reads {
				requests.Store(0)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var got int
				var last error
				for _, err := range read(ctx) {
					if err != nil {
						last = err
						break
					}
					got++
				}
				if last == nil || errors.Is(last, context.DeadlineExceeded) || !strings.Contains(last.Error(), "does not move on") {
					t.Errorf("%s: %d events, then %v after %d requests; expected an error saying the next link does not move on", what, got, last, requests.Load())
				}
				// A link before the events of its page ends the read there;
				// an empty page at the same place is asked again for 50 ms.
				if n, most := requests.Load(), map[bool]int64{true: 1, false: 10}[tc.events != nil]; n > most {
					t.Errorf("%s: %d requests; expected at most %d: the read ends at the first link that does not move on", what, n, most)
				}
			}
		})
	}
}

// TestAReadAtTheHeadFollowsALinkThatStaysWhileACommitIsNotVisibleYet:
// Tributary answers a read of the log's head where a commit is not
// visible yet, but a later one is (InnoDB shows one a moment before the
// other), with an empty page whose next link stays at the same after:
// more is coming. The read took that for links that go round and ended
// with an error, at the second such page in a row (at the first, once
// next links had to move on). It now asks again after a pause, for as
// long as such a hole lasts on the server (which passes one within 5 s),
// and reads on once the commit shows.
func TestAReadAtTheHeadFollowsALinkThatStaysWhileACommitIsNotVisibleYet(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if requests.Add(1) <= 4 {
			w.Header().Set("Link", `</events?after=0&limit=100>; rel="next"`)
			io.WriteString(w, `{"events":[]}`) //nolint:errcheck // a test's answer
			return
		}
		io.WriteString(w, `{"events":[`+sseEvent(1)+`,`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
	})
	if got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{})); fmt.Sprint(got) != "[1 2]" || err != nil {
		t.Errorf("read %v, then %v after %d requests; expected [1 2], the link that stays followed until the events show", got, err, requests.Load())
	}
}

// TestAnErrorAnswerThatIsNoProblemGetsAShortCleanDetail: a body that was
// not problem details went whole (up to 64 KiB) into Problem.Detail, and
// so into every error message and log line: a proxy's HTML error page,
// markup, scripts, line breaks and all, or a body with terminal escapes.
// Now an HTML page gets a one-line note, and other text a short excerpt
// on one line, without control characters.
func TestAnErrorAnswerThatIsNoProblemGetsAShortCleanDetail(t *testing.T) {
	t.Parallel()
	page := "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>body{}</style></head>\n<body><h1>Bad Gateway</h1>" +
		strings.Repeat("<p>filler</p>\n", 20000) + "</body></html>"
	for name, tc := range map[string]struct {
		contentType, body string
		want              string // what Detail must contain
	}{
		"an HTML page":                  {"text/html; charset=utf-8", page, "HTML"},
		"an HTML page without its type": {"", page, "HTML"},
		"a long text":                   {"text/plain", "upstream connect error or disconnect/reset before headers. " + strings.Repeat("x", 1<<20), "upstream connect error"},
		"a text with escapes":           {"text/plain", "bad\x1b[31m gateway\r\n\tnow\x00", "bad [31m gateway now"},
		"JSON that is no problem":       {"application/json", `{"message":"no healthy upstream"}`, `{"message":"no healthy upstream"}`},
		"bytes that are no UTF-8":       {"application/octet-stream", "oops \xff\xfe done", "oops"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, tc.body) //nolint:errcheck // a test's answer
			})
			_, err := c.Stream(context.Background(), uuid.New())
			var p *Problem
			if !errors.As(err, &p) || p.Status != http.StatusBadGateway {
				t.Fatalf("a 502: %v; expected a *Problem of status 502", err)
			}
			d := p.Detail
			if len(d) > 300 || strings.ContainsAny(d, "<>\n\r\t\x00\x1b") || !utf8.ValidString(d) || !strings.Contains(d, tc.want) {
				t.Errorf("Detail = %.400q (%d bytes); expected at most 300 bytes of valid UTF-8 on one line, no markup or control character, with %q", d, len(d), tc.want)
			}
		})
	}
}

// TestSubscribeSaysLogResetWhenAResumptionIsRefusedAsAhead: a database
// reset under a server that restarts answers the resumption with a 409
// starting-point-ahead (its head is behind the last event delivered),
// which ended the subscription as if its caller had asked for a start
// past the end: nothing told it apart from a wrong starting point. It is
// now ErrLogReset as well as the 409's ErrStartingPointAhead; a first
// connection's 409, the caller's own starting point, is not.
func TestSubscribeSaysLogResetWhenAResumptionIsRefusedAsAhead(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		if conns.Add(1) > 1 || r.URL.Query().Get("after") == "9" {
			writeProblem(w, http.StatusConflict, `{"type":"https://tributary.dev/problems/starting-point-ahead","title":"Starting point ahead","status":409,"requested":3,"current":0}`)
			return
		}
		startEventStream(w)
		for pos := 1; pos <= 3; pos++ {
			io.WriteString(w, fmt.Sprintf("id: %d\ndata: %s\n\n", pos, sseEvent(pos))) //nolint:errcheck // a test's answer
		}
	})
	msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond}, 0)
	var p *Problem
	if got := positions(msgs); fmt.Sprint(got) != "[1 2 3]" || !errors.Is(last, ErrLogReset) || !errors.Is(last, ErrStartingPointAhead) || !errors.As(last, &p) {
		t.Errorf("received %v, then %v; expected 1 to 3, then ErrLogReset that is also the 409's *Problem", got, last)
	}
	if msgs, err := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{After: 9}, 1); len(msgs) != 0 || errors.Is(err, ErrLogReset) || !errors.Is(err, ErrStartingPointAhead) {
		t.Errorf("a first connection refused as ahead: %d messages, then %v; expected ErrStartingPointAhead alone", len(msgs), err)
	}
}

// TestANotTributaryAnswersLongContentTypeIsCutInTheError: the error that
// OnDisconnect is told, for an answer that is no event stream, quoted the
// answer's Content-Type whole: a proxy could put kilobytes into every log
// line of a consumer that logs its disconnections.
func TestANotTributaryAnswersLongContentTypeIsCutInTheError(t *testing.T) {
	t.Parallel()
	long := "text/html; x=" + strings.Repeat("a", 10_000)
	var requests atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.Header().Set("Content-Type", long)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
	})
	var told error
	opts := SubscribeOptions{MinBackoff: time.Millisecond, OnDisconnect: func(err error, _ time.Duration) {
		if told == nil {
			told = err
		}
	}}
	if _, err := subscribeFor(t, srv, 30*time.Second, opts, 1); err != nil {
		t.Fatalf("the subscription ended: %v", err)
	}
	if told == nil || len(told.Error()) > 300 {
		t.Errorf("OnDisconnect was told %d bytes (%.120v…); expected the answer's Content-Type cut short", len(fmt.Sprint(told)), told)
	}
}

// TestReadFrameHoldsAboutTheFrameOfManyEmptyDataLines: a frame of empty
// data lines ("data:\n", 6 bytes each) within MaxFrameBytes made readFrame
// hold a string header of 16 bytes for each, and grow that slice copy by
// copy: 274 MiB allocated for a frame of 16 MiB, against a bound that
// says it is what the client holds. The data is now gathered as it comes.
func TestReadFrameHoldsAboutTheFrameOfManyEmptyDataLines(t *testing.T) {
	const most = 16 << 20
	in := strings.Repeat("data:\n", most/6-1) + "\n"
	r := newFrameReader(strings.NewReader(in))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f, err := readFrame(r, most)
	runtime.ReadMemStats(&after)
	if err != nil || len(f.data) != most/6-2 {
		t.Fatalf("read %d bytes of data, %v; expected the %d line ends between %d empty lines", len(f.data), err, most/6-2, most/6-1)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*most {
		t.Errorf("reading a frame of %d MiB allocated %d MiB; expected at most %d MiB", len(in)>>20, got>>20, 4*most>>20)
	}
}

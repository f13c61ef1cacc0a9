package http_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// stuckStore never answers a stream lookup, like a database that hangs.
type stuckStore struct{ eventstore.Store }

func (stuckStore) Stream(ctx context.Context, _ uuid.UUID) (eventstore.Stream, error) {
	<-ctx.Done()
	return eventstore.Stream{}, ctx.Err()
}

// Append never answers either.
func (stuckStore) Append(ctx context.Context, _ eventstore.AppendRequest) (eventstore.AppendResult, error) {
	<-ctx.Done()
	return eventstore.AppendResult{}, ctx.Err()
}

// TestOnlyASubscriptionOutlivesTheRequestTimeout sends requests that ask for
// text/event-stream but are not subscriptions (an append, a stream lookup, a
// stream list) to a store that never answers: each must end at the request
// timeout with a 503, for only a GET on the two subscription routes is exempt.
// (They take JSON too, at a lower q: an Accept of text/event-stream alone is
// a 406 at once on a URL that serves JSON alone.)
func TestOnlyASubscriptionOutlivesTheRequestTimeout(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		const timeout = 300 * time.Millisecond
		srv := httptest.NewServer(esthttp.New(stuckStore{store}, esthttp.Options{RequestTimeout: timeout}))
		t.Cleanup(srv.Close)
		id := uuid.NewString()
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/streams/" + id + "/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`},
			{"GET", "/streams/" + id, ""},
		} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Accept", "text/event-stream, application/json;q=0.5")
			req.Header.Set("Content-Type", "application/json")
			client := &http.Client{Timeout: 20 * timeout}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s with Accept: text/event-stream on a stuck store: %v after %s; want a 503 at the request timeout (%s)",
					tc.method, tc.path, err, time.Since(start), timeout)
			}
			resp.Body.Close()
			if took := time.Since(start); resp.StatusCode != 503 || took > 10*timeout {
				t.Errorf("%s %s with Accept: text/event-stream on a stuck store: %d after %s; want 503 after about %s",
					tc.method, tc.path, resp.StatusCode, took, timeout)
			}
		}
	})
}

func TestLimitsAndTimeouts(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go feed.Run(ctx)
	const timeout = 300 * time.Millisecond
	srv := httptest.NewServer(esthttp.New(stuckStore{store}, esthttp.Options{
		Feed: feed, Heartbeat: 100 * time.Millisecond,
		// One client holds both places: the instance's limit is tested here.
		MaxEventBytes: 100, MaxSubscribers: 2, MaxSubscribersPerClient: 2, RequestTimeout: timeout,
	}))
	t.Cleanup(srv.Close)

	// One event over the limit, in a body well within it.
	body := `{"stream_type":"a","events":[{"type":"X","data":{}},{"type":"X","data":"` + strings.Repeat("x", 120) + `"}]}`
	resp, err := http.Post(srv.URL+"/streams/"+uuid.NewString()+"/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("an event of 122 bytes with a 100-byte limit: status %d, want 413", resp.StatusCode)
	}

	// A request stuck on the database ends at the timeout with a 503.
	start := time.Now()
	resp, err = http.Get(srv.URL + "/streams/" + uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 503 || took > 5*timeout {
		t.Errorf("a request stuck on the store: %d after %s, want 503 after about %s", resp.StatusCode, took, timeout)
	}

	// Two subscriptions fit, a third is refused; they outlive the request timeout.
	subscribe := func() *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	a, b := subscribe(), subscribe()
	if a.StatusCode != 200 || b.StatusCode != 200 {
		t.Fatalf("two subscriptions with room for two: %d and %d", a.StatusCode, b.StatusCode)
	}
	if c := subscribe(); c.StatusCode != 503 || c.Header.Get("Retry-After") == "" {
		t.Errorf("a third subscription with room for two: %d Retry-After %q, want 503 with Retry-After", c.StatusCode, c.Header.Get("Retry-After"))
	}
	time.Sleep(2 * timeout)
	r := bufio.NewReader(a.Body)
	deadline := time.Now().Add(2 * time.Second)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("a subscription ended after the request timeout: %v", err)
		}
		if strings.HasPrefix(line, ": keep-alive") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no keep-alive on a subscription older than the request timeout")
		}
	}
	// Closing one makes room again.
	b.Body.Close()
	time.Sleep(100 * time.Millisecond)
	if c := subscribe(); c.StatusCode != 200 {
		t.Errorf("a subscription after one closed: %d, want 200", c.StatusCode)
	}
}

// TestStalledUploadsHoldNoMoreThanTheBodyBudget: a client that sends most
// of a large body and stops holds what it sent, and more (the decoder's
// buffer), until its read timeout; fifty of 3.9 MB each held 364 MB of a
// server's memory, and nothing bounded their number. Bodies being received
// now share a budget (Options.MaxBodyBytesInFlight), counted as they are
// read, which /metrics shows: past it, a body is refused with a 503 and
// Retry-After, and nothing is written; once the stalled uploads end, the
// same append goes through.
func TestStalledUploadsHoldNoMoreThanTheBodyBudget(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const maxBody = 1 << 20
		srv := budgetServer(t, k, maxBody)
		inFlight := func() int { t.Helper(); return bodyBytesInFlight(t, srv.URL) }
		// Two uploads stop 200 KiB short of their announced length.
		const sent = maxBody - 200<<10
		var stalled []net.Conn
		for range 2 {
			stalled = append(stalled, stallUpload(t, srv.Listener.Addr().String(), maxBody, sent))
		}
		waitForBodies(t, srv.URL, 2*sent) // counted once the server has read them
		stream := uuid.New()
		third := `{"stream_type":"order","events":[{"type":"A","data":"` + strings.Repeat("y", 600<<10) + `"}]}`
		post := func() *http.Response {
			t.Helper()
			resp, err := http.Post(srv.URL+"/streams/"+stream.String()+"/events", "application/json", strings.NewReader(third))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body) //nolint:errcheck // only the status matters
			resp.Body.Close()
			return resp
		}
		if resp := post(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("a 600 KiB body while two stalled uploads hold 1.6 MiB of a 2 MiB budget: %d (Retry-After %q); want 503 with Retry-After",
				resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		r, err := http.Get(srv.URL + "/streams/" + stream.String())
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Fatalf("the stream of the refused append: %d; want 404, nothing written", r.StatusCode)
		}
		for _, c := range stalled {
			c.Close()
		}
		for deadline := time.Now().Add(10 * time.Second); inFlight() > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("the stalled uploads ended, and the server still holds %d bytes of bodies", inFlight())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if resp := post(); resp.StatusCode != http.StatusCreated {
			t.Fatalf("the same append once the stalled uploads ended: %d; want 201", resp.StatusCode)
		}
	})
}

// bodyBytesInFlight reads tributary_http_request_body_bytes_in_flight from
// the /metrics of the server at url.
func bodyBytesInFlight(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "tributary_http_request_body_bytes_in_flight "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatal("/metrics has no tributary_http_request_body_bytes_in_flight")
	return 0
}

// waitForBodies waits until the server at url holds at least want bytes
// of request bodies being received, as its /metrics says.
func waitForBodies(t *testing.T, url string, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); bodyBytesInFlight(t, url) < want; {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d bytes of the stalled uploads; expected %d", bodyBytesInFlight(t, url), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stallUpload starts an append at addr that announces a body of announced
// bytes, sends the first sent of them and stops; closing the connection it
// returns ends it.
func stallUpload(t *testing.T, addr string, announced, sent int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", uuid.New(), announced)
	body := `{"stream_type":"order","events":[{"type":"A","data":"` + strings.Repeat("x", sent-52)
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestABodyPastTheBudgetAfterItsObjectIsA503: the read that passes the
// budget of bodies in flight can come after the body's JSON object, in the
// whitespace that may follow it. It was answered 400, "the body must hold
// one JSON object and nothing after it": a client told its body is wrong
// does not send it again, though nothing is wrong with it but the time.
func TestABodyPastTheBudgetAfterItsObjectIsA503(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const maxBody = 1 << 20
		srv := budgetServer(t, k, maxBody)
		// Two stalled uploads leave 400 KiB of the budget.
		const sent = maxBody - 200<<10
		var stalled []net.Conn
		for range 2 {
			stalled = append(stalled, stallUpload(t, srv.Listener.Addr().String(), maxBody, sent))
		}
		waitForBodies(t, srv.URL, 2*sent)
		stream := uuid.New()
		// A small object, then 600 KiB of whitespace, which JSON allows.
		body := `{"stream_type":"order","events":[{"type":"A","data":1}]}` + strings.Repeat(" ", 600<<10)
		post := func() (*http.Response, string) {
			t.Helper()
			resp, err := http.Post(srv.URL+"/streams/"+stream.String()+"/events", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		if resp, problem := post(); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("a body whose object fits the budget and whose trailing whitespace does not: %d (Retry-After %q) %s; want 503 with Retry-After",
				resp.StatusCode, resp.Header.Get("Retry-After"), problem)
		}
		for _, c := range stalled {
			c.Close()
		}
		for deadline := time.Now().Add(10 * time.Second); bodyBytesInFlight(t, srv.URL) > 0; {
			if time.Now().After(deadline) {
				t.Fatalf("the stalled uploads ended, and the server still holds %d bytes of bodies", bodyBytesInFlight(t, srv.URL))
			}
			time.Sleep(20 * time.Millisecond)
		}
		if resp, problem := post(); resp.StatusCode != http.StatusCreated {
			t.Fatalf("the same append once the stalled uploads ended: %d %s; want 201", resp.StatusCode, problem)
		}
	})
}

// TestABatchOverTheLimitIsRefusedBeforeTheRestOfItsBody: the batch limit
// was applied once the whole body had been decoded, so a client that sent
// more events than TRIBUTARY_MAX_BATCH and went on sending (or stopped)
// got its 413 only at the end of its body, or its read timeout, and the
// server decoded every event it sent meanwhile: 4 MiB of small events,
// 190,000 of them, held 15 MB, more than three times the bytes the budget
// of bodies in flight counts. The event past the limit now ends the request.
func TestABatchOverTheLimitIsRefusedBeforeTheRestOfItsBody(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{MaxBodyBytes: 1 << 20, MaxBatch: 2}))
		t.Cleanup(srv.Close)
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		// Three events of a body announced as 1 MiB, and then nothing.
		fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", uuid.New(), 1<<20)
		io.WriteString(c, `{"stream_type":"order","events":[{"type":"A","data":1},{"type":"A","data":2},{"type":"A","data":3},`) //nolint:errcheck // the answer tells
		c.SetReadDeadline(time.Now().Add(5 * time.Second))                                                                       //nolint:errcheck // a test's bound
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("three events of a batch limited to two, and the rest of the body not sent: %v; want a 413 at once", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("three events of a batch limited to two: %d; want 413", resp.StatusCode)
		}
	})
}

// TestABodyStillArrivingAtTheRequestTimeoutIsAnswered408: a request's
// response may be written until its timeout and a grace after it, but its
// body was read until the server's ReadTimeout, which is longer by
// default (60 s against 30 s and 5): a client whose body had not all come
// by then was answered a 408 past the write deadline, which is no answer,
// and held its part of the budget of bodies in flight that long. The
// request's time now bounds the reading of its body too.
func TestABodyStillArrivingAtTheRequestTimeoutIsAnswered408(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const timeout = 200 * time.Millisecond
		srv := httptest.NewUnstartedServer(esthttp.New(k.Open(t), esthttp.Options{MaxBodyBytes: 1 << 20, RequestTimeout: timeout}))
		srv.Config.ReadTimeout = 6 * time.Second // past the timeout and its 5 s of grace to write
		srv.Start()
		t.Cleanup(srv.Close)
		c := stallUpload(t, srv.Listener.Addr().String(), 1<<20, 100<<10)
		c.SetReadDeadline(time.Now().Add(8 * time.Second)) //nolint:errcheck // a test's bound
		start := time.Now()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("a body still arriving at the request timeout (%s): no answer after %s (%v); want a 408 at the timeout", timeout, time.Since(start).Round(time.Millisecond), err)
		}
		resp.Body.Close()
		if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 10*timeout {
			t.Fatalf("a body still arriving at the request timeout (%s): %d after %s; want 408 at the timeout", timeout, resp.StatusCode, took.Round(time.Millisecond))
		}
	})
}

// TestAnAppendRefusedBeforeItsBodyEndsIsAnsweredAtOnce: net/http reads
// what is left of a body, up to 256 KiB, before it sends the answer, so
// that the connection can carry the next request. An append refused before
// the end of its body (a batch over the limit, malformed JSON), whose
// client had the last bytes still to send, was answered only once they
// came, or not at all when the client waited for the answer first.
func TestAnAppendRefusedBeforeItsBodyEndsIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{MaxBatch: 2}))
		t.Cleanup(srv.Close)
		for _, tc := range []struct {
			name, sent string
			status     int
		}{
			{"a batch over the limit", `{"stream_type":"order","events":[{"type":"A","data":1},{"type":"A","data":2},{"type":"A","data":3},`, http.StatusRequestEntityTooLarge},
			{"malformed JSON", `{"stream_type":"order","events":[{"type":"A","data":1}}`, http.StatusBadRequest},
		} {
			answeredAtOnce(t, srv.Listener.Addr().String(), tc.name, "/streams/"+uuid.NewString()+"/events",
				"Content-Type: application/json\r\n", tc.sent, tc.status)
		}
	})
}

// TestABatchAtTheLimitIsNotRefusedForWhatFollowsItsLastEvent: the event
// list refuses a batch at the event past the limit, but took anything that
// was not the array's end after the last event it may hold for that event:
// a batch of exactly the limit whose body then stalled, broke off or was
// malformed was answered 413, "more than N events", which tells a client
// to split a batch that was not too large, and not to send again a request
// that had timed out.
func TestABatchAtTheLimitIsNotRefusedForWhatFollowsItsLastEvent(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{MaxBatch: 2, RequestTimeout: 300 * time.Millisecond}))
		t.Cleanup(srv.Close)
		const twoEvents = `{"stream_type":"order","events":[{"type":"A","data":1},{"type":"A","data":2}`
		for _, tc := range []struct {
			name, sent string
			toCome     int // bytes of the body announced but not sent
			status     int
		}{
			{"stalled after its last event", twoEvents, 100, http.StatusRequestTimeout},
			{"cut short after its last event", twoEvents, 0, http.StatusBadRequest},
			{"cut short after a comma", twoEvents + ",", 0, http.StatusBadRequest},
			{"malformed after its last event", twoEvents + "}", 0, http.StatusBadRequest},
		} {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", uuid.New(), len(tc.sent)+tc.toCome, tc.sent)
			c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a test's bound
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("a batch of the limit's 2 events %s: %v; want a %d", tc.name, err, tc.status)
			}
			detail, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("a batch of the limit's 2 events %s: %d %s; want %d", tc.name, resp.StatusCode, detail, tc.status)
			}
		}
	})
}

// TestAnAppendRefusedBeforeItsBodyIsReadIsAnsweredAtOnce: an append
// refused for its path, query or headers, before any of its body is read,
// met what an append refused inside its body had: net/http reads what is
// left of a body, up to 256 KiB, before it answers, so a client that waits
// for the answer before sending the rest was not answered until the
// server's ReadTimeout (60 s, past the request's write deadline: no
// answer at all), or ever without one.
func TestAnAppendRefusedBeforeItsBodyIsReadIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{}))
		t.Cleanup(srv.Close)
		const sent = `{"stream_type":"order","events":[`
		for _, tc := range []struct {
			name, path, headers string
			status              int
		}{
			{"a stream id that is not a UUID", "/streams/nope/events", "Content-Type: application/json\r\n", http.StatusBadRequest},
			{"an unknown query parameter", "/streams/" + uuid.NewString() + "/events?x=1", "Content-Type: application/json\r\n", http.StatusBadRequest},
			{"a Content-Type that is not JSON", "/streams/" + uuid.NewString() + "/events", "Content-Type: text/plain\r\n", http.StatusUnsupportedMediaType},
			{"an If-None-Match that is not *", "/streams/" + uuid.NewString() + "/events", "Content-Type: application/json\r\nIf-None-Match: \"3\"\r\n", http.StatusBadRequest},
		} {
			answeredAtOnce(t, srv.Listener.Addr().String(), "an append with "+tc.name, tc.path, tc.headers, sent, tc.status)
		}
	})
}

// answeredAtOnce sends an append to path at addr with the headers given
// (each ending in CRLF), announcing 100 bytes more of body than sent, and
// expects an answer with status before it sends them.
func answeredAtOnce(t *testing.T, addr, what, path, headers, sent string, status int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s", path, headers, len(sent)+100, sent)
	c.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a test's bound
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s, 100 bytes of the body still to come: %v; want a %d at once", what, err, status)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("%s, 100 bytes of the body still to come: %d; want %d", what, resp.StatusCode, status)
	}
}

// budgetServer serves k's store with bodies of at most maxBody bytes, a
// budget of two such bodies in flight, and /metrics. One client may hold
// all of the budget: every test client is 127.0.0.1.
func budgetServer(t *testing.T, k teststore.Kind, maxBody int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{MaxBodyBytes: maxBody, MaxBodyBytesInFlight: 2 * maxBody,
		MaxClientBytesInFlight: 2 * maxBody, Metrics: metrics.New("test")}))
	t.Cleanup(srv.Close)
	return srv
}

// TestARefusedRequestWhoseBodyIsStillComingIsClosedAtOnce: net/http reads
// what is left of a request's body, up to 256 KiB, before it sends the
// answer, and again before it closes the connection. A request refused
// before its body was read, or halfway through it (a 401, a 413 by its
// Content-Length, a 415, a 503 of the budget of bodies in flight, a 404),
// whose client went on sending its body a byte at a time, was answered
// only once the body had come, or held its connection and a goroutine
// until the ReadTimeout after the answer (a review found it). Such an
// answer now says Connection: close and the server closes the connection
// at once, reading nothing more of the body.
func TestARefusedRequestWhoseBodyIsStillComingIsClosedAtOnce(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		tokens, err := esthttp.ParseTokens("app:write:w-0123456789abcdef,dash:read:r-0123456789abcdef")
		if err != nil {
			t.Fatal(err)
		}
		serve := func(opts esthttp.Options) *httptest.Server {
			t.Helper()
			srv := httptest.NewUnstartedServer(esthttp.New(k.Open(t), opts))
			srv.Config.ReadTimeout = time.Minute // what a trickled body could hold before
			srv.Start()
			t.Cleanup(srv.Close)
			return srv
		}
		plain := serve(esthttp.Options{MaxBodyBytes: 1000}).Listener.Addr().String()
		guarded := serve(esthttp.Options{MaxBodyBytes: 1000, Tokens: tokens}).Listener.Addr().String()
		appendTo := "/streams/" + uuid.NewString() + "/events"
		const json = "Content-Type: application/json\r\n"
		for _, tc := range []struct {
			name, addr, method, path, headers, sent string
			announced, status                       int
		}{
			{"without a token", guarded, "POST", appendTo, json, "", 1000, http.StatusUnauthorized},
			{"with a read token", guarded, "POST", appendTo, json + "Authorization: Bearer r-0123456789abcdef\r\n", "", 1000, http.StatusForbidden},
			{"announcing a body past the limit", plain, "POST", appendTo, json, "", 2000, http.StatusRequestEntityTooLarge},
			{"a Content-Type that is not JSON", plain, "POST", appendTo, "Content-Type: text/plain\r\n", "", 1000, http.StatusUnsupportedMediaType},
			{"a stream id that is not a UUID", plain, "POST", "/streams/nope/events", json, "", 1000, http.StatusBadRequest},
			{"malformed JSON", plain, "POST", appendTo, json, `{"stream_type":"order"]`, 1000, http.StatusBadRequest},
			{"a method no route serves", plain, "PUT", "/events", json, "", 1000, http.StatusMethodNotAllowed},
			{"a path no route serves", plain, "POST", "/nope", json, "", 1000, http.StatusNotFound},
			{"expecting 100-continue, without a token", guarded, "POST", appendTo, json + "Expect: 100-continue\r\n", "", 1000, http.StatusUnauthorized},
		} {
			refusedAndClosed(t, tc.addr, tc.name, tc.method, tc.path, tc.headers, tc.sent, tc.announced, tc.status)
		}

		// Two stalled uploads hold 1,800 bytes of a budget of 2,000.
		budget := serve(esthttp.Options{MaxBodyBytes: 1000, MaxBodyBytesInFlight: 2000, MaxClientBytesInFlight: 2000, Metrics: metrics.New("test")})
		for range 2 {
			stallUpload(t, budget.Listener.Addr().String(), 1000, 900)
		}
		waitForBodies(t, budget.URL, 1800)
		refusedAndClosed(t, budget.Listener.Addr().String(), "past the budget of bodies in flight", "POST", appendTo, json,
			`{"stream_type":"order","events":[{"type":"A","data":"`+strings.Repeat("x", 300), 1000, http.StatusServiceUnavailable)
	})
}

// refusedAndClosed sends a request to addr announcing a body of announced
// bytes, sends sent of it, then the rest a byte every 50 ms, and expects
// an answer with status and Connection: close within 2 s, and the
// connection closed by the server within 3 s after it, while the body
// still comes (net/http may read it for a second more).
func refusedAndClosed(t *testing.T, addr, what, method, path, headers, sent string, announced, status int) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s", method, path, headers, announced, sent)
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for range announced - len(sent) {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	c.SetReadDeadline(start.Add(2 * time.Second)) //nolint:errcheck // a test's bound
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Errorf("%s, its body still coming a byte at a time: no answer after %s (%v); want a %d at once",
			what, time.Since(start).Round(time.Millisecond), err, status)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status || !resp.Close {
		t.Errorf("%s, its body still coming a byte at a time: %d, Connection %q; want %d, Connection: close",
			what, resp.StatusCode, resp.Header.Get("Connection"), status)
		return
	}
	answered := time.Now()
	c.SetReadDeadline(answered.Add(3 * time.Second)) //nolint:errcheck // a test's bound
	if n, err := br.Read(make([]byte, 64)); n > 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s, its body still coming a byte at a time: the connection still open %s after the %d (read %d bytes, %v); want it closed at once",
			what, time.Since(answered).Round(time.Millisecond), status, n, err)
	}
}

// TestOneClientCannotTakeTheWholeBodyBudget: TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT
// bounds the bytes of bodies being received at once, all clients together,
// and one client that opened uploads and stalled them (a handful of
// connections: 64 of the 4 MiB bodies the defaults take) held all of it,
// so that every other client's append was refused 503 until the stalled
// ones timed out, and again as soon as it opened more (a review found it).
// A client, one token or one address as for subscriptions, now holds at
// most TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT (half the budget by
// default): past it, its own appends are 503 naming the setting, while
// other clients' still go in. On both stores.
func TestOneClientCannotTakeTheWholeBodyBudget(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		// No per-client setting: half of the 4,000 bytes.
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{MaxBodyBytes: 1000, MaxBodyBytesInFlight: 4000,
			Metrics: metrics.New("test")}))
		t.Cleanup(srv.Close)
		one, other := subscriberFrom(t, "127.0.0.1"), subscriberFrom(t, "127.0.0.2")
		// 127.0.0.1 holds 1,800 bytes in two stalled uploads.
		for range 2 {
			stallUpload(t, srv.Listener.Addr().String(), 1000, 900)
		}
		waitForBodies(t, srv.URL, 1800)
		body := `{"stream_type":"order","events":[{"type":"A","data":"` + strings.Repeat("z", 400) + `"}]}`
		post := func(client *http.Client) (*http.Response, string) {
			t.Helper()
			resp, err := client.Post(srv.URL+"/streams/"+uuid.NewString()+"/events", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp, string(b)
		}
		if resp, detail := post(one); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(detail, "TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT") {
			t.Errorf("a 450-byte append of 127.0.0.1, which holds 1,800 of its 2,000 bytes: %d (Retry-After %q) %s; "+
				"want 503 with Retry-After, naming TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT", resp.StatusCode, resp.Header.Get("Retry-After"), detail)
		}
		if resp, detail := post(other); resp.StatusCode != http.StatusCreated {
			t.Errorf("a 450-byte append of 127.0.0.2 beside 127.0.0.1's 1,800 bytes: %d %s; want 201", resp.StatusCode, detail)
		}
	})
}

// TestABodyBudgetRefusalIsLoggedAsALimitNotAFault: a 503 of the budget of
// bodies in flight, the whole's or a client's share, was logged at ERROR,
// as a fault, where the subscriber limits' 503s are a warning: any client
// sending a few slow bodies could fill an operator's error log and page
// whoever watches it (a black-box review found it).
func TestABodyBudgetRefusalIsLoggedAsALimitNotAFault(t *testing.T) {
	t.Parallel()
	for name, budget := range map[string]struct{ whole, share int64 }{"the whole budget": {2500, 2500}, "a client's share": {4000, 2000}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			logs := &testlog.Buffer{}
			srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{MaxBodyBytes: 1000, MaxBodyBytesInFlight: budget.whole,
				MaxClientBytesInFlight: budget.share, Metrics: metrics.New("test"), Logger: slog.New(slog.NewJSONHandler(logs, nil))}))
			t.Cleanup(srv.Close)
			for range 2 {
				stallUpload(t, srv.Listener.Addr().String(), 1000, 950)
			}
			waitForBodies(t, srv.URL, 1900)
			body := `{"stream_type":"order","events":[{"type":"A","data":"` + strings.Repeat("z", 900) + `"}]}`
			resp, err := http.Post(srv.URL+"/streams/"+uuid.NewString()+"/events", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("an append past %s: %d; want 503", name, resp.StatusCode)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), `"msg":"request",`) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(logs.String(), `"level":"WARN","msg":"request failed"`) || strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("an append refused past %s: expected its lines at WARN and none at ERROR:\n%s", name, logs.String())
			}
		})
	}
}

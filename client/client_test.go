package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The client's tests live in three places. Here, in client_test.go: its
// pure parts (the event stream's frames, Link and Retry-After headers,
// options) and what it does with answers a server could give, from
// httptest servers the tests script (a frame it cannot decode, a long
// Retry-After). Beside this file: the same against hostile or failing
// servers (hostile_test.go, timeout_test.go, redirect_test.go, …) and
// against the service's own HTTP handler on each store
// (teststore.ForEach: basepath_test.go, ends_test.go, readretry_test.go,
// …). In tests/client_test.go: against the real binary, on both stores,
// restarts included.

// newClient returns New(base, opts...)'s Client, closed when the test
// ends; an error from New fails the test at once.
func newClient(t *testing.T, base string, opts ...Option) *Client {
	t.Helper()
	c, err := New(base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testServer starts an httptest server that answers with h; it is closed
// when the test ends.
func testServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// startEventStream starts an answer of server-sent events, asking for
// reconnections after 1 ms.
func startEventStream(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	io.WriteString(w, "retry: 1\n\n") //nolint:errcheck // a test's answer
}

// writeProblem answers status with the problem+json body.
func writeProblem(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	io.WriteString(w, body) //nolint:errcheck // a test's answer
}

// serving returns a Client (newClient) of a testServer that answers with
// h; both are closed when the test ends.
func serving(t *testing.T, h http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	return newClient(t, testServer(t, h).URL, opts...)
}

func TestNextLinkFindsRelNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ link, want string }{
		{`</events?after=5&limit=2>; rel="next"`, "/events?after=5&limit=2"},
		{`</a>; rel="prev", </b>; rel=next`, "/b"},
		{`</a>; rel="prev"`, ""},
		{``, ""},
	} {
		h := http.Header{}
		if tc.link != "" {
			h.Set("Link", tc.link)
		}
		if got, _ := nextLink(h, &url.URL{Scheme: "http", Host: "h", Path: "/events"}); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.link, got, tc.want)
		}
	}
}

func TestProblemIsItsSentinel(t *testing.T) {
	t.Parallel()
	p := &Problem{Status: 409, Type: problemBase + "wrong-expected-version", CurrentVersion: 4}
	if !errors.Is(p, ErrWrongExpectedVersion) || errors.Is(p, ErrDuplicateEventID) {
		t.Errorf("a wrong-expected-version problem should be ErrWrongExpectedVersion and nothing else")
	}
	if (&Problem{Status: 500, Type: problemBase + "internal"}).Is(ErrUnavailable) {
		t.Errorf("an internal problem should match no sentinel")
	}
}

// TestRetryAfterIsReadInEitherForm: RFC 9110 allows Retry-After as seconds
// or as an HTTP date, which a proxy in front of the server may send.
func TestRetryAfterIsReadInEitherForm(t *testing.T) {
	t.Parallel()
	in30s := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		header   string
		min, max time.Duration
	}{
		{"7", 7 * time.Second, 7 * time.Second},
		{in30s, 28 * time.Second, 30 * time.Second},
		{"Thu, 01 Jan 2015 00:00:00 GMT", 0, 0}, // past: at once
		{"soon", 0, 0},
		{"-3", 0, 0},
		// Past the longest Duration: the longest, not an overflow.
		{"10000000000", 290 * 365 * 24 * time.Hour, math.MaxInt64},
		{"99999999999999999999", 290 * 365 * 24 * time.Hour, math.MaxInt64},
	} {
		res := &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {tc.header}},
			Body: io.NopCloser(strings.NewReader(""))}
		if got := readProblem(res).RetryAfter; got < tc.min || got > tc.max {
			t.Errorf("Retry-After: %s gave %v; expected %v to %v", tc.header, got, tc.min, tc.max)
		}
	}
}

// TestWithHTTPClientNilKeepsTheDefault: a nil *http.Client, as an unset
// variable passes, sends with the default rather than panic at the first
// request.
func TestWithHTTPClientNilKeepsTheDefault(t *testing.T) {
	t.Parallel()
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stream_id":"`+path.Base(r.URL.Path)+`","stream_type":"order","version":1}`) //nolint:errcheck // a test's answer
	})
	var hc *http.Client
	c := newClient(t, srv.URL, WithHTTPClient(hc))
	if _, err := c.Stream(context.Background(), uuid.New()); err != nil {
		t.Fatalf("a request with WithHTTPClient(nil): %v", err)
	}
}

// TestSubscribeEndsAtAnEventItCannotDecodeRatherThanSkipIt: the id of a
// frame whose data is not an event was taken as received, so the
// reconnect resumed after it and the consumer never saw that event. Now
// the iteration ends there, with an error that names it, after every
// event before it.
func TestSubscribeEndsAtAnEventItCannotDecodeRatherThanSkipIt(t *testing.T) {
	t.Parallel()
	event := func(pos int) string {
		return eventJSON(uuid.New(), uuid.New(), pos, pos)
	}
	frames := []string{"id: 1\ndata: " + event(1), "id: 2\ndata: {\"position\": \"two\"}", "id: 3\ndata: " + event(3)}
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.Atoi(r.Header.Get("Last-Event-ID"))
		startEventStream(w)
		for _, f := range frames[after:] {
			io.WriteString(w, f+"\n\n") //nolint:errcheck // a test's answer
		}
	})
	msgs, last := subscribeFor(t, srv, 10*time.Second, SubscribeOptions{MinBackoff: time.Millisecond}, 0)
	if got := positions(msgs); len(got) != 1 || got[0] != 1 {
		t.Errorf("received positions %v; expected [1] and then the error", got)
	}
	if last == nil || !strings.Contains(last.Error(), "event 2") {
		t.Errorf("ended with %v; expected an error that names event 2", last)
	}
}

// TestSubscribeWaitsOutARetryAfterFarAhead: a Retry-After far enough ahead
// overflowed time.Duration, as seconds (negative, so not waited for) or
// once the jitter was added to it (a negative wait, which is none), and
// Subscribe came back at once, again and again, to a server that asked it
// to stay away. It then waited what was asked, centuries for a date in the
// year 9999, which parked the subscription for good: the wait is now
// bounded by maxServerWait (or MaxBackoff, if longer), and the caller's
// context still ends it at once.
func TestSubscribeWaitsOutARetryAfterFarAhead(t *testing.T) {
	t.Parallel()
	for _, retryAfter := range []string{"Fri, 31 Dec 9999 23:59:59 GMT", "9223372036", "10000000000", "86400"} {
		t.Run(retryAfter, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				w.Header().Set("Retry-After", retryAfter)
				writeProblem(w, http.StatusServiceUnavailable, `{"type":"https://tributary.dev/problems/unavailable","title":"Service unavailable","status":503}`)
			})
			waits := subscribeWaits(t, srv, SubscribeOptions{MinBackoff: time.Millisecond})
			if n := requests.Load(); n != 1 {
				t.Errorf("Retry-After: %s; Subscribe sent %d requests before its wait was cancelled (waits %v); expected 1, then a long wait", retryAfter, n, waits[:min(len(waits), 3)])
			}
			if len(waits) != 1 || waits[0] < maxServerWait*4/5 || waits[0] > maxServerWait {
				t.Errorf("Retry-After: %s; Subscribe would wait %v; expected one wait of %v to %v", retryAfter, waits, maxServerWait*4/5, maxServerWait)
			}
		})
	}
}

// TestSubscribeWaitsAServersLongWaitUpToMaxBackoffIfLonger: a MaxBackoff
// longer than maxServerWait raises the bound on what a server may ask
// for, and a wait asked for within it is waited whole.
func TestSubscribeWaitsAServersLongWaitUpToMaxBackoffIfLonger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		retryAfter  string
		max         time.Duration
		least, most time.Duration
	}{
		{"86400", time.Hour, 48 * time.Minute, time.Hour},
		{"120", 0, 2 * time.Minute, 2*time.Minute + 30*time.Second},
	} {
		t.Run(tc.retryAfter, func(t *testing.T) {
			t.Parallel()
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.retryAfter)
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			waits := subscribeWaits(t, srv, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: tc.max})
			if len(waits) != 1 || waits[0] < tc.least || waits[0] > tc.most {
				t.Errorf("Retry-After: %s, MaxBackoff %v; Subscribe would wait %v; expected one wait of %v to %v", tc.retryAfter, tc.max, waits, tc.least, tc.most)
			}
		})
	}
}

// TestNewSkipsANilOption: an option left nil (a conditional one not taken)
// panicked in New.
func TestNewSkipsANilOption(t *testing.T) {
	t.Parallel()
	var opt Option
	if _, err := New("http://localhost:8080", opt, WithToken("t")); err != nil {
		t.Fatal(err)
	}
}

// TestCloseClosesTheIdleConnectionsOfTheClientsOwnTransportOnly: a Client
// had no Close, and its default transport (http.DefaultTransport, shared
// with the whole process) kept idle connections open for 90 s after the
// last request, however long the program had done with it. Close now
// closes the idle connections of a transport the client made itself (not
// the process's), and never those of a caller's own http.Client.
func TestCloseClosesTheIdleConnectionsOfTheClientsOwnTransportOnly(t *testing.T) {
	t.Parallel()
	theirs := &closeCounter{RoundTripper: &http.Transport{}}
	for name, tc := range map[string]struct {
		opts   []Option
		closes bool
	}{
		"the client's own transport": {closes: true},
		"WithHTTPClient(nil)":        {opts: []Option{WithHTTPClient(nil)}, closes: true},
		"a caller's http.Client":     {opts: []Option{WithHTTPClient(&http.Client{Transport: theirs})}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			closed := make(chan struct{}, 1)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"stream_id":"`+path.Base(r.URL.Path)+`","stream_type":"order","version":1}`) //nolint:errcheck // a test's answer
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					select {
					case closed <- struct{}{}:
					default:
					}
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, tc.opts...)
			if tr := c.http.Transport; tc.closes && (tr == nil || tr == http.DefaultTransport) {
				// The process's transport, which other tests' servers close
				// the idle connections of, and which Close must not close.
				t.Fatalf("the client sends with the process's http.DefaultTransport; expected a transport of its own")
			}
			if _, err := c.Stream(context.Background(), uuid.New()); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case <-closed:
				if !tc.closes {
					t.Errorf("Close closed the idle connection of the caller's transport")
				}
			case <-time.After(500 * time.Millisecond):
				if tc.closes {
					t.Errorf("the idle connection is still open 500 ms after Close; expected Close to close it")
				}
			}
			if !tc.closes && theirs.closes.Load() != 0 {
				t.Errorf("Close called CloseIdleConnections on the caller's transport")
			}
			// The client still works after Close, on a new connection.
			if _, err := c.Stream(context.Background(), uuid.New()); err != nil {
				t.Errorf("a request after Close: %v", err)
			}
		})
	}
}

// closeCounter is a caller's transport that counts CloseIdleConnections.
type closeCounter struct {
	http.RoundTripper
	closes atomic.Int64
}

func (c *closeCounter) CloseIdleConnections() { c.closes.Add(1) }

// TestNextLinkReadsTheLinkFieldAsRFC8288Writes: the Link field was split
// at every comma and semicolon, so a link whose URI held a comma (a
// filter, type=a,b) was lost and the read stopped after its first page,
// a parameter whose quoted value held ";rel=next" was taken for the
// relation, and rel="prev next", REL=next or rel = next went unseen.
func TestNextLinkReadsTheLinkFieldAsRFC8288Writes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		links []string
		want  string
	}{
		{[]string{`</events?type=a,b&after=5>; rel="next"`}, "/events?type=a,b&after=5"},
		{[]string{`</events?type=a,b>; rel="prev", </events?type=c,d&after=9>; rel="next"`}, "/events?type=c,d&after=9"},
		{[]string{`</a>; title="x;rel=next;"`}, ""},
		{[]string{`</a>; title="x, </b>; rel=next"`}, ""},
		{[]string{`</a>; title="q\"uote, rel=next"; rel=prev, </c>; rel=next`}, "/c"},
		{[]string{`</b>; REL="Next"`}, "/b"},
		{[]string{`</b>; rel="prev next"`}, "/b"},
		{[]string{`</b> ; rel = "next"`}, "/b"},
		{[]string{`</b>;rel=next`}, "/b"},
		{[]string{`</a>; rel="prev"; rel="next"`}, ""}, // only the first rel counts (§3.3)
		{[]string{`</a>; rel=prev`, `</b>; rel=next`}, "/b"},
		{[]string{`<unterminated; rel=next`}, ""},
		{[]string{`garbage, </b>; rel=next`}, "/b"},
		{[]string{`</a>; title="never closed, rel=next`}, ""},
		{[]string{`</a>; rel=nextpage, </b>; rel=next`}, "/b"},
	} {
		h := http.Header{"Link": tc.links}
		if got, _ := nextLink(h, &url.URL{Scheme: "http", Host: "h", Path: "/events"}); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.links, got, tc.want)
		}
	}
}

// TestReadsFollowANextLinkWithACommaInIt: a next link whose URI held a
// comma (a filter of two types, as a server or proxy may leave unescaped)
// was not found, and ReadAll ended after the first page as if the log
// ended there.
func TestReadsFollowANextLinkWithACommaInIt(t *testing.T) {
	t.Parallel()
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("after") == "" {
			w.Header().Set("Link", `</events?stream_type=order,cart&after=1>; rel="next"`)
			io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
			return
		}
		io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
	})
	var got []int64
	for e, err := range c.ReadAll(context.Background(), ReadAllOptions{StreamTypes: []string{"order", "cart"}}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Position)
	}
	if fmt.Sprint(got) != "[1 2]" {
		t.Errorf("read %v; expected positions 1 and 2, the second from the next link", got)
	}
}

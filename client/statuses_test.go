package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestSubscribeEndsOnWhatNoRetryMendsAndWaitsOutTheRest states, status by
// status, what a subscription does with an error answer: end with it, or
// wait it out with backoff and come back. Every status the service answers
// a subscription with (api/openapi.yaml, and net/http's own 431 and 400),
// and what proxies and load balancers in front answer, in Tributary's
// problem+json and in plain text. A plain 401 (a revoked or wrong token
// refused by a proxy that checks it, or whose error page replaced
// Tributary's problem) and a 431 (headers too large) were waited out for
// ever, though the next request sends the same token and the same headers:
// an answer about the request itself now ends the subscription, whoever
// sends it.
func TestSubscribeEndsOnWhatNoRetryMendsAndWaitsOutTheRest(t *testing.T) {
	t.Parallel()
	const (
		ends = true
		wait = false
	)
	for _, tc := range []struct {
		status int
		slug   string // Tributary's problem type for it; "": Tributary never sends it
		// What a subscription does with Tributary's problem, and with a
		// plain text answer of the status (a proxy's, or net/http's own).
		ours, plain bool
	}{
		{http.StatusBadRequest, "bad-request", ends, wait}, // plain: a proxy's page (nginx's header limit: TestSubscribeEndsOnAProxysHeaderTooLarge400)
		{http.StatusUnauthorized, "unauthorized", ends, ends},
		{http.StatusForbidden, "forbidden", ends, wait}, // plain: a WAF's rate-based block lifts
		{http.StatusNotFound, "not-found", ends, wait},  // plain: an ingress with no route during a deploy
		{http.StatusMethodNotAllowed, "method-not-allowed", ends, ends},
		{http.StatusNotAcceptable, "", ends, ends},
		{http.StatusProxyAuthRequired, "", ends, ends},
		{http.StatusRequestTimeout, "request-timeout", wait, wait},
		{http.StatusConflict, "starting-point-ahead", ends, wait},
		{http.StatusGone, "", ends, wait},
		{http.StatusPreconditionFailed, "precondition-failed", ends, wait},
		{http.StatusRequestEntityTooLarge, "too-large", ends, ends},
		{http.StatusRequestURITooLong, "", ends, ends},
		{http.StatusUnsupportedMediaType, "unsupported-media-type", ends, ends},
		{http.StatusMisdirectedRequest, "", wait, wait},
		{http.StatusTooEarly, "", wait, wait},
		{http.StatusTooManyRequests, "", wait, wait},
		{http.StatusRequestHeaderFieldsTooLarge, "", ends, ends},
		{http.StatusInternalServerError, "internal", wait, wait},
		{http.StatusNotImplemented, "not-implemented", ends, ends},
		{http.StatusBadGateway, "", wait, wait},
		{http.StatusServiceUnavailable, "unavailable", wait, wait},
		{http.StatusGatewayTimeout, "", wait, wait},
		{http.StatusHTTPVersionNotSupported, "", ends, ends},
	} {
		slug := tc.slug
		if slug == "" {
			// A problem of Tributary's form for a status it does not send
			// today: decided by its status, as a later version's would be.
			slug = "other"
		}
		for form, end := range map[string]bool{"problem": tc.ours, "plain": tc.plain} {
			t.Run(fmt.Sprintf("%d %s", tc.status, form), func(t *testing.T) {
				t.Parallel()
				srv, requests := refusedOnce(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Retry-After", "0")
					if form == "problem" {
						writeProblem(w, tc.status, fmt.Sprintf(`{"type":"https://tributary.dev/problems/%s","title":"Refused","status":%d,"detail":"no"}`, slug, tc.status))
						return
					}
					w.Header().Set("Content-Type", "text/plain; charset=utf-8")
					w.WriteHeader(tc.status)
					fmt.Fprintf(w, "%d %s", tc.status, http.StatusText(tc.status))
				})
				msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 1)
				var p *Problem
				switch {
				case end && (!errors.As(last, &p) || p.Status != tc.status || requests.Load() != 1):
					t.Errorf("received %v, then %v after %d requests; expected the first answer to end the subscription with its %d",
						positions(msgs), last, requests.Load(), tc.status)
				case !end && fmt.Sprint(positions(msgs)) != "[1]":
					t.Errorf("received %v, then %v after %d requests; expected the %d waited out, and position 1 from the next answer",
						positions(msgs), last, requests.Load(), tc.status)
				}
			})
		}
	}
}

// TestSubscribeEndsOnAProxysHeaderTooLarge400: nginx answers a header
// block past its large_client_header_buffers (a long token, a cookie
// jar) with a plain 400 "Request Header Or Cookie Too Large", and Apache
// its LimitRequestFieldSize with a 400 too: the same case as a 431, which
// the next request, sent the same, meets again, but the subscription
// waited them out for ever. nginx's other fixed 400s about the request
// itself (plain HTTP to its HTTPS port, a client certificate missing or
// refused) are the same. Only these, found near the start of the body,
// end it: any other plain 400 is still waited out.
func TestSubscribeEndsOnAProxysHeaderTooLarge400(t *testing.T) {
	t.Parallel()
	nginx := func(why string) string {
		return "<html>\r\n<head><title>400 " + why + "</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>" +
			why + "</center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
	}
	const apache = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>400 Bad Request</title>
</head><body>
<h1>Bad Request</h1>
<p>Your browser sent a request that this server could not understand.<br />
Size of a request header field exceeds server limit.<br />
</p>
</body></html>
`
	for name, tc := range map[string]struct {
		body string
		why  string // what the error says of it; "": it is waited out
	}{
		"nginx's header limit":           {nginx("Request Header Or Cookie Too Large"), "Request Header Or Cookie Too Large"},
		"nginx's plain HTTP to HTTPS":    {nginx("The plain HTTP request was sent to HTTPS port"), "The plain HTTP request was sent to HTTPS port"},
		"nginx's client certificate":     {nginx("No required SSL certificate was sent"), "No required SSL certificate was sent"},
		"nginx's bad client certificate": {nginx("The SSL certificate error"), "The SSL certificate error"},
		"Apache's header limit":          {apache, "Size of a request header field exceeds server limit"},
		"nginx's plain 400":              {nginx("Bad Request"), ""},
		"the words far into the body":    {strings.Repeat(" ", 4<<10) + nginx("Request Header Or Cookie Too Large"), ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, requests := refusedOnce(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, tc.body) //nolint:errcheck // a test's answer
			})
			msgs, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}, 1)
			var p *Problem
			switch {
			case tc.why != "" && (!errors.As(last, &p) || p.Status != http.StatusBadRequest || requests.Load() != 1 || !strings.Contains(last.Error(), tc.why)):
				t.Errorf("received %v, then %v after %d requests; expected the first answer to end the subscription with its 400, saying %q",
					positions(msgs), last, requests.Load(), tc.why)
			case tc.why == "" && fmt.Sprint(positions(msgs)) != "[1]":
				t.Errorf("received %v, then %v after %d requests; expected the 400 waited out, and position 1 from the next answer", positions(msgs), last, requests.Load())
			}
		})
	}
}

// TestSubscribeEndsOnAPlain401AsErrUnauthorized: a 401 that is not
// Tributary's problem (a proxy's, or one whose body a proxy replaced) is
// still ErrUnauthorized, so that a consumer can tell a refused token from
// the rest.
func TestSubscribeEndsOnAPlain401AsErrUnauthorized(t *testing.T) {
	t.Parallel()
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="proxy", error="invalid_token"`)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "<html><body>401 Authorization Required</body></html>") //nolint:errcheck // a test's answer
	})
	_, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond}, 1)
	if !errors.Is(last, ErrUnauthorized) {
		t.Errorf("a proxy's 401 ended the subscription with %v; expected ErrUnauthorized", last)
	}
}

// TestSubscribeEndsOnNetHTTPsOwn431: a token longer than the server's
// header limit is answered by net/http itself, before Tributary's code
// runs, with a plain 431; Subscribe sent it again and again, for ever.
func TestSubscribeEndsOnNetHTTPsOwn431(t *testing.T) {
	t.Parallel()
	var handled atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		startEventStream(w)
	}))
	srv.Config.MaxHeaderBytes = 1 // net/http allows 4 KiB more than this
	var conns atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL, WithToken(strings.Repeat("t", 8<<10)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last error
	for _, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}) {
		last = err
		break
	}
	var p *Problem
	if !errors.As(last, &p) || p.Status != http.StatusRequestHeaderFieldsTooLarge || conns.Load() != 1 || handled.Load() != 0 {
		t.Errorf("a token past the server's header limit: ended with %v after %d connections; expected the first 431 to end it", last, conns.Load())
	}
}

// TestAProblemsTitleAndDetailAreShortAndOnOneLine: the sibling of
// TestAnErrorAnswerThatIsNoProblemGetsAShortCleanDetail for answers that
// are problem details: their title and detail went as they came (up to
// 64 KiB, line breaks, terminal escapes and all) into Problem.Error(),
// and so into every error message and log line of the consumer. They are
// now cut short, on one line, without control characters; the problem
// keeps its type and what errors.Is makes of it.
func TestAProblemsTitleAndDetailAreShortAndOnOneLine(t *testing.T) {
	t.Parallel()
	long := "line one\nline two\x1b[2J\x1b[31m red\r\n\tend\x00 " + strings.Repeat("x", 25_000)
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck // a test's answer
			"type": "https://tributary.dev/problems/not-found", "title": long, "status": 404, "detail": long,
		})
	})
	_, err := c.Stream(context.Background(), uuid.New())
	var p *Problem
	if !errors.As(err, &p) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("a 404 problem: %v; expected a *Problem that is ErrNotFound", err)
	}
	for what, s := range map[string]string{"Title": p.Title, "Detail": p.Detail, "Error()": err.Error()} {
		if len(s) > 2500 || strings.ContainsAny(s, "\n\r\t\x00\x1b") || !strings.Contains(s, "line one line two [2J [31m red end") {
			t.Errorf("%s = %.200q… (%d bytes); expected at most a few KiB on one line, without control characters, the text kept", what, s, len(s))
		}
	}
}

// TestAnUndecodableEventsIDIsQuotedShortInTheError: the error that ends a
// subscription at an event it cannot decode named the frame's id as it
// came: up to MaxFrameBytes of it, terminal escapes and all, into the
// consumer's error and log.
func TestAnUndecodableEventsIDIsQuotedShortInTheError(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{"no JSON": "nonsense", "no position": "{}"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "retry: 1\n\nid: 7\x1b[2J\r"+strings.Repeat("9", 1<<20)+"\ndata: "+data+"\n\n") //nolint:errcheck // a test's answer
			})
			_, last := subscribeFor(t, srv, 30*time.Second, SubscribeOptions{MinBackoff: time.Millisecond}, 0)
			if last == nil || len(last.Error()) > 1000 || strings.ContainsAny(last.Error(), "\x1b\r") || !strings.Contains(last.Error(), "7") {
				t.Errorf("ended with %.200q… (%d bytes); expected a short error naming the event, without control characters", fmt.Sprint(last), len(fmt.Sprint(last)))
			}
		})
	}
}

// TestANotTributaryAnswersStatusLineIsCleanInTheError: the reason phrase
// of an answer that is no event stream went as it came into the error
// OnDisconnect is told, terminal escapes and all, and that of an append's
// answer that is neither 201 nor 200 into Append's error.
func TestANotTributaryAnswersStatusLineIsCleanInTheError(t *testing.T) {
	t.Parallel()
	addr := tcptest.Serve(t, func(conn net.Conn) {
		conn.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // a test's server
		// The append's body read too, and the connection said to
		// close: a body left unread makes the close a reset, which
		// may lose the answer, and the append, sent on the
		// subscription's connection once the server closed it, got
		// EOF or a reset instead of the answer.
		if req, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
			io.Copy(io.Discard, req.Body) //nolint:errcheck // a test's server
		}
		io.WriteString(conn, "HTTP/1.1 202 Accepted\x1b[2J\x1b[31mgotcha\r\nContent-Type: text/html\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") //nolint:errcheck // a test's server
	})
	c := newClient(t, "http://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var told error
	for _, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, OnDisconnect: func(err error, _ time.Duration) {
		if told == nil {
			told = err
		}
		cancel()
	}}) {
		_ = err
		break
	}
	if told == nil || strings.ContainsAny(told.Error(), "\x1b") || !strings.Contains(told.Error(), "gotcha") {
		t.Errorf("OnDisconnect was told %q; expected the status line without control characters", fmt.Sprint(told))
	}
	_, err := c.Append(context.Background(), StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
	if err == nil || strings.ContainsAny(err.Error(), "\x1b") || !strings.Contains(err.Error(), "gotcha") {
		t.Errorf("Append: %q; expected the status line without control characters", fmt.Sprint(err))
	}
}

// refusedOnce returns a server that answers a subscription's first request
// with refuse, and every later one with the event at position 1, and the
// count of the requests it has had. It is closed when the test ends.
func refusedOnce(t *testing.T, refuse http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	requests := new(atomic.Int64)
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 1 {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
			return
		}
		refuse(w, r)
	})
	return srv, requests
}

// TestAProblemsOtherTextMembersAreShortAndOnOneLine: a problem's
// event_id and stream_type, and its X-Request-Id, are the server's text
// too, which a caller logs (a duplicate event's id, a stream's type, the
// request to look up); they came as sent, tens of KiB of them, terminal
// escapes and line breaks included. They are now kept as Title and Detail
// are: on one line, without control characters, cut to 1 KiB.
func TestAProblemsOtherTextMembersAreShortAndOnOneLine(t *testing.T) {
	t.Parallel()
	hostile := "\x1b[2J\nforged log line " + strings.Repeat("x", 20<<10)
	body, _ := json.Marshal(map[string]any{"type": "https://tributary.dev/problems/duplicate-event-id", "title": "Conflict",
		"status": 409, "event_id": hostile, "stream_type": hostile})
	res := &http.Response{StatusCode: http.StatusConflict,
		Header: http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {strings.Repeat("r", 60<<10)}},
		Body:   io.NopCloser(bytes.NewReader(body))}
	p := readProblem(res)
	for name, v := range map[string]string{"EventID": p.EventID, "StreamType": p.StreamType, "RequestID": p.RequestID} {
		if len(v) > 1024+len("…") || strings.ContainsAny(v, "\x1b\n") || v == "" {
			t.Errorf("%s: %d bytes, %.40q…; expected at most 1 KiB on one line, without control characters", name, len(v), v)
		}
	}
	if !errors.Is(p, ErrDuplicateEventID) {
		t.Errorf("%v; expected ErrDuplicateEventID", p)
	}
}

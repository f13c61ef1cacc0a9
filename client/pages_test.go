package client

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestReadsEndAtAnEventTheyDidNotAskFor: the sibling of
// TestSubscribeEndsAtAnEventItDidNotAskFor for reads. A server (or a proxy
// that strips the query) that ignored the read's starting point or its
// filters, or answered with another stream's events, had them yielded as
// if asked for: a read from position 100 got the log from its start, a
// read of orders got invoices. The read now ends at the first such event
// with an error naming it.
func TestReadsEndAtAnEventTheyDidNotAskFor(t *testing.T) {
	t.Parallel()
	stream, other := uuid.New(), uuid.New()
	event := func(streamID uuid.UUID, streamType, typ string, version, position int) string {
		return fmt.Sprintf(`{"id":"%s","stream_id":"%s","stream_type":"%s","version":%d,"position":%d,"type":"%s","data":{},"recorded_at":"2026-12-04T00:00:00Z"}`,
			uuid.New(), streamID, streamType, version, position, typ)
	}
	for name, tc := range map[string]struct {
		read   func(c *Client) iter.Seq2[Event, error]
		events []string // the page; its first event is asked for only if good is 1
		good   int      // how many events are yielded before the error
	}{
		"the log before After": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadAll(context.Background(), ReadAllOptions{After: 100})
		},
			[]string{event(stream, "order", "A", 1, 1), event(stream, "order", "A", 2, 2)}, 0},
		"the log at After": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadAll(context.Background(), ReadAllOptions{After: 100})
		},
			[]string{event(stream, "order", "A", 1, 100)}, 0},
		"another stream type": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadAll(context.Background(), ReadAllOptions{StreamTypes: []string{"order"}})
		}, []string{event(stream, "order", "A", 1, 1), event(other, "invoice", "A", 1, 2)}, 1},
		"another event type": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadAll(context.Background(), ReadAllOptions{EventTypes: []string{"A", "B"}})
		}, []string{event(stream, "order", "B", 1, 1), event(stream, "order", "C", 2, 2)}, 1},
		"a stream before From": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadStream(context.Background(), stream, ReadStreamOptions{From: 5})
		}, []string{event(stream, "order", "A", 1, 1)}, 0},
		"a stream backward past From": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadStream(context.Background(), stream, ReadStreamOptions{From: 5, Direction: Backward})
		}, []string{event(stream, "order", "A", 6, 6)}, 0},
		"another stream": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadStream(context.Background(), stream, ReadStreamOptions{})
		}, []string{event(stream, "order", "A", 1, 1), event(other, "order", "A", 2, 2)}, 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := answering(t, `{"events":[`+strings.Join(tc.events, ",")+`]}`)
			var got int
			var last error
			for _, err := range tc.read(c) {
				if err != nil {
					last = err
					break
				}
				got++
			}
			if got != tc.good || last == nil {
				t.Errorf("yielded %d events, then %v; expected %d, then an error", got, last, tc.good)
			}
		})
	}
	// What was asked for is yielded: the first event at From, backward too,
	// and names given with a comma.
	for name, tc := range map[string]struct {
		read   func(c *Client) iter.Seq2[Event, error]
		events []string
	}{
		"a stream from From": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadStream(context.Background(), stream, ReadStreamOptions{From: 5})
		}, []string{event(stream, "order", "A", 5, 9), event(stream, "order", "A", 6, 10)}},
		"a stream backward from From": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadStream(context.Background(), stream, ReadStreamOptions{From: 5, Direction: Backward})
		}, []string{event(stream, "order", "A", 5, 9), event(stream, "order", "A", 4, 8)}},
		"the log after After, filtered": {func(c *Client) iter.Seq2[Event, error] {
			return c.ReadAll(context.Background(), ReadAllOptions{After: 100, StreamTypes: []string{"order,cart"}, EventTypes: []string{"A"}})
		}, []string{event(stream, "order", "A", 1, 101), event(other, "cart", "A", 1, 150)}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := answering(t, `{"events":[`+strings.Join(tc.events, ",")+`]}`)
			var got int
			for _, err := range tc.read(c) {
				if err != nil {
					t.Fatalf("after %d events: %v", got, err)
				}
				got++
			}
			if got != len(tc.events) {
				t.Errorf("yielded %d events; expected %d", got, len(tc.events))
			}
		})
	}
}

// TestAStreamReadEndsAtAGapOrAnEndShortOfTheStream: a stream's versions
// are 1, 2, 3 … without gaps, and a read goes on to the stream's end, but
// ReadStream checked only that versions grew: a page that skipped a
// version (a server's fault, or a proxy's), or a read whose next link went
// missing before the end (a proxy that drops the Link field), yielded an
// aggregate's events with one missing, or cut short, without a word.
func TestAStreamReadEndsAtAGapOrAnEndShortOfTheStream(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	page := func(version int, versions ...int) string {
		var evs []string
		for _, v := range versions {
			evs = append(evs, eventJSON(uuid.New(), stream, v, 10+v))
		}
		return fmt.Sprintf(`{"stream_id":"%s","stream_type":"order","version":%d,"events":[%s]}`, stream, version, strings.Join(evs, ","))
	}
	for name, tc := range map[string]struct {
		opts ReadStreamOptions
		page string
		good int // how many events are yielded before the error; -1: no error
	}{
		"a gap":                                {ReadStreamOptions{}, page(4, 1, 2, 4), 2},
		"a gap after From":                     {ReadStreamOptions{From: 5}, page(7, 6, 7), 0},
		"a gap backward":                       {ReadStreamOptions{Direction: Backward}, page(5, 5, 3, 2, 1), 1},
		"an end short of the stream":           {ReadStreamOptions{}, page(5, 1, 2), 2},
		"no events of a stream that has":       {ReadStreamOptions{}, page(5), 0},
		"a backward end short of 1":            {ReadStreamOptions{Direction: Backward}, page(5, 5, 4), 2},
		"the whole stream":                     {ReadStreamOptions{}, page(3, 1, 2, 3), -1},
		"from From to the end":                 {ReadStreamOptions{From: 2}, page(3, 2, 3), -1},
		"past the end":                         {ReadStreamOptions{From: 9}, page(3), -1},
		"backward from past the end":           {ReadStreamOptions{From: 9, Direction: Backward}, page(3, 3, 2, 1), -1},
		"backward from From":                   {ReadStreamOptions{From: 2, Direction: Backward}, page(3, 2, 1), -1},
		"a page that does not say its version": {ReadStreamOptions{}, `{"events":[` + eventJSON(uuid.New(), stream, 1, 1) + `]}`, -1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := answering(t, tc.page)
			var got int
			var last error
			for _, err := range c.ReadStream(context.Background(), stream, tc.opts) {
				if err != nil {
					last = err
					break
				}
				got++
			}
			switch {
			case tc.good < 0 && last != nil:
				t.Errorf("yielded %d events, then %v; expected every event and no error", got, last)
			case tc.good >= 0 && (got != tc.good || last == nil):
				t.Errorf("yielded %d events, then %v; expected %d, then an error", got, last, tc.good)
			}
		})
	}
}

// TestStreamRefusesADescriptionOfAnotherStream: the sibling of
// TestAppendRefusesAnAnswerThatIsNotItsBatch for Stream: a 200 whose JSON
// described another stream, or none ({}, a proxy's JSON), was returned as
// the stream's description.
func TestStreamRefusesADescriptionOfAnotherStream(t *testing.T) {
	t.Parallel()
	id := uuid.New()
	for name, tc := range map[string]struct {
		body string
		ok   bool
	}{
		"another stream": {`{"stream_id":"` + uuid.NewString() + `","stream_type":"order","version":1}`, false},
		"no stream":      {`{"status":"ok"}`, false},
		"this stream":    {`{"stream_id":"` + strings.ToUpper(id.String()) + `","stream_type":"order","version":1}`, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := answering(t, tc.body)
			s, err := c.Stream(context.Background(), id)
			if tc.ok != (err == nil) {
				t.Errorf("a 200 of %s: %+v, %v; expected an error: %v", tc.body, s, err, !tc.ok)
			}
		})
	}
}

// TestReadsResolveARelativeNextLinkAgainstThePageTheyRead: a next link
// with no path (<?after=5>) or a relative one (<events?after=5>) was
// joined to the base URL's root, so the read asked for /?after=5 (or
// /events?after=5 from a stream's page) and ended with a 404, or another
// resource's answer. A reference is now resolved per RFC 3986 §5 against
// the page it came with, as the server sees it: behind a base URL with a
// path (a proxy that strips a prefix), that path stays in front, as for
// the server's own links (</events?after=5>), as before, pinned here (a
// link to another origin is refused: TestANextLinkToAnotherOriginIsRefused).
func TestReadsResolveARelativeNextLinkAgainstThePageTheyRead(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	first, second := eventJSON(uuid.New(), stream, 1, 1), eventJSON(uuid.New(), stream, 2, 2)
	link := func(form, q, path string) string { return strings.NewReplacer("{q}", q, "{path}", path).Replace(form) }
	for _, form := range []string{"?{q}", "events?{q}", "./events?{q}", "{path}?{q}"} {
		for _, prefix := range []string{"", "/tributary"} {
			t.Run(form+" "+prefix, func(t *testing.T) {
				t.Parallel()
				var wrong atomic.Value
				pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					q := r.URL.Query()
					w.Header().Set("Content-Type", "application/json")
					switch {
					case r.URL.Path == "/events" && q.Get("after") == "":
						w.Header().Set("Link", "<"+link(form, "after=1", r.URL.Path)+`>; rel="next"`)
						io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
					case r.URL.Path == "/events" && q.Get("after") == "1":
						io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
					case r.URL.Path == "/streams/"+stream.String()+"/events" && q.Get("from") == "":
						w.Header().Set("Link", "<"+link(form, "from=2", r.URL.Path)+`>; rel="next"`)
						io.WriteString(w, `{"stream_id":"`+stream.String()+`","version":2,"events":[`+first+`]}`) //nolint:errcheck // a test's answer
					case r.URL.Path == "/streams/"+stream.String()+"/events" && q.Get("from") == "2":
						io.WriteString(w, `{"stream_id":"`+stream.String()+`","version":2,"events":[`+second+`]}`) //nolint:errcheck // a test's answer
					default:
						answerNotFound(w, r, &wrong)
					}
				})
				var h http.Handler = pages
				if prefix != "" {
					h = http.StripPrefix(prefix, pages)
				}
				srv := testServer(t, h.ServeHTTP)
				expectBothReadsOfTwoPages(t, srv.URL+prefix, stream, form, prefix, &wrong, "the second from the link's page")
			})
		}
	}
}

// TestReadsResolveARelativeNextLinkAgainstThePageARedirectLedTo: a
// relative next link was resolved against the URL the read asked for, not
// the one its page came from (RFC 9110 §10.2.2, RFC 3986 §5.1.3): after a
// redirect within the origin (a route moved: /events to /v2/log), the link
// <log?after=1> sent the next request to /log?after=1, a 404, or another
// resource's answer. It is now resolved against the page's own URL, after
// any redirects; behind a base URL with a path too.
func TestReadsResolveARelativeNextLinkAgainstThePageARedirectLedTo(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	first, second := eventJSON(uuid.New(), stream, 1, 1), eventJSON(uuid.New(), stream, 2, 2)
	for _, form := range []string{"log?{q}", "./log?{q}", "?{q}"} {
		for _, prefix := range []string{"", "/tributary"} {
			t.Run(form+" "+prefix, func(t *testing.T) {
				t.Parallel()
				var wrong atomic.Value
				link := func(q string) string { return "<" + strings.Replace(form, "{q}", q, 1) + `>; rel="next"` }
				srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
					q := r.URL.Query()
					w.Header().Set("Content-Type", "application/json")
					log, streamLog := prefix+"/v2/log", prefix+"/v2/streams/"+stream.String()+"/log"
					switch r.URL.Path {
					case prefix + "/events":
						http.Redirect(w, r, log+"?"+r.URL.RawQuery, http.StatusFound)
					case prefix + "/streams/" + stream.String() + "/events":
						http.Redirect(w, r, streamLog+"?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
					case log:
						if q.Get("after") == "" {
							w.Header().Set("Link", link("after=1"))
							io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
						} else if q.Get("after") == "1" {
							io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
						}
					case streamLog:
						if q.Get("from") == "" {
							w.Header().Set("Link", link("from=2"))
							io.WriteString(w, `{"stream_id":"`+stream.String()+`","version":2,"events":[`+first+`]}`) //nolint:errcheck // a test's answer
						} else if q.Get("from") == "2" {
							io.WriteString(w, `{"stream_id":"`+stream.String()+`","version":2,"events":[`+second+`]}`) //nolint:errcheck // a test's answer
						}
					default:
						answerNotFound(w, r, &wrong)
					}
				})
				expectBothReadsOfTwoPages(t, srv.URL+prefix, stream, form, prefix, &wrong, "the second from the link resolved against the page's URL")
			})
		}
	}
}

// TestAReadRedirectedToAnotherOriginTakesItsNextLinksToTheServer: a
// relative next link on a page that a redirect brought from another
// origin is taken for its path and query, on the server's origin, as a
// link to another origin is: the client's requests, and its token, go to
// the server it was given, which may redirect again.
func TestAReadRedirectedToAnotherOriginTakesItsNextLinksToTheServer(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64 // requests for the second page on the other origin
	other := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			elsewhere.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Link", `<?after=1>; rel="next"`)
		io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
	})
	var auth atomic.Value
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
			return
		}
		auth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
	}, WithToken("t0k"))
	got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
	if fmt.Sprint(got) != "[1 2]" || err != nil || elsewhere.Load() != 0 || auth.Load() != "Bearer t0k" {
		t.Errorf("read %v, then %v, %d requests for the next page on the other origin, the server's with Authorization %q; expected [1 2], the next page from the server, with the token",
			got, err, elsewhere.Load(), auth.Load())
	}
}

// answerNotFound answers r with the server's 404 and notes its target in
// wrong: a request for what a test's server does not serve.
func answerNotFound(w http.ResponseWriter, r *http.Request, wrong *atomic.Value) {
	wrong.Store(r.URL.RequestURI())
	writeProblem(w, http.StatusNotFound, `{"type":"https://tributary.dev/problems/not-found","title":"Not found","status":404}`)
}

// expectBothReadsOfTwoPages reads the log and stream from a Client of
// base, and fails the test unless each read yields positions 1 and 2 and
// ends without an error: the second page reached by the next link, of
// form, behind the base path prefix. secondPage says where that page
// comes from, wrong holds the last request the server did not serve.
func expectBothReadsOfTwoPages(t *testing.T, base string, stream uuid.UUID, form, prefix string, wrong *atomic.Value, secondPage string) {
	t.Helper()
	c := newClient(t, base)
	for what, read := range bothReads(c, stream) {
		got, last := readPositions(read)
		if fmt.Sprint(got) != "[1 2]" || last != nil {
			t.Errorf("%s, Link %s, base path %q: read %v, then %v (a request for %v); expected two events, %s",
				what, form, prefix, got, last, wrong.Load(), secondPage)
		}
	}
}

// bothReads is c's read of the log and of stream, each from its start,
// by name.
func bothReads(c *Client, stream uuid.UUID) map[string]iter.Seq2[Event, error] {
	return map[string]iter.Seq2[Event, error]{
		"ReadAll":    c.ReadAll(context.Background(), ReadAllOptions{}),
		"ReadStream": c.ReadStream(context.Background(), stream, ReadStreamOptions{}),
	}
}

// readPositions reads read to its end, and returns the positions of the
// events it yielded and the error that ended it, if any.
func readPositions(read iter.Seq2[Event, error]) ([]int64, error) {
	var got []int64
	for e, err := range read {
		if err != nil {
			return got, err
		}
		got = append(got, e.Position)
	}
	return got, nil
}

// answering returns a Client of a server that answers every request with
// a 200 of body as JSON; both are closed when the test ends.
func answering(t *testing.T, body string) *Client {
	t.Helper()
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body) //nolint:errcheck // a test's answer
	})
	return c
}

// TestReadsEndAtAnAnswerThatIsNoPage: a 200 in JSON without an events
// array (null, {}, a stream's description, an array of events alone, as a
// gateway's default answer or another API's may be) was read as an empty
// page: ReadAll and ReadStream ended without an error, and a consumer
// catching up took the log or the stream for empty, or read to its end.
// Tributary's page always holds "events":[…]; an answer without it ends
// the read with an error.
func TestReadsEndAtAnAnswerThatIsNoPage(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	for _, body := range []string{`null`, `{}`, `{"events":null}`, `{"ok":true}`,
		`{"stream_id":"` + stream.String() + `","stream_type":"order","version":0}`} {
		c := answering(t, body)
		for what, read := range map[string]iter.Seq2[Event, error]{
			"ReadAll":    c.ReadAll(context.Background(), ReadAllOptions{}),
			"ReadStream": c.ReadStream(context.Background(), stream, ReadStreamOptions{}),
		} {
			var got int
			var last error
			for _, err := range read {
				if err != nil {
					last = err
					break
				}
				got++
			}
			if got != 0 || last == nil || !strings.Contains(last.Error(), "no events") {
				t.Errorf("%s answered %s: %d events, then %v; expected an error saying the answer holds no events", what, body, got, last)
			}
		}
	}
	// An empty page is one.
	c := answering(t, `{"events":[]}`)
	for _, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
		t.Errorf("an empty page: %v; expected the end of the read", err)
	}
}

// TestAReadsErrorQuotesALongNextLinkShort: the server's next link went
// whole into a read's errors (net/http's, which quote the URL, and the
// client's own), so that a server or proxy whose link ran to 100 KiB
// made every error of the read that long, into the caller's logs. Each
// error now quotes the link's start only.
func TestAReadsErrorQuotesALongNextLinkShort(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100<<10)
	for name, second := range map[string]func(w http.ResponseWriter){
		"a page that is no JSON": func(w http.ResponseWriter) { io.WriteString(w, "<html>") }, //nolint:errcheck // a test's answer
		"no page of events":      func(w http.ResponseWriter) { io.WriteString(w, "{}") },     //nolint:errcheck // a test's answer
		"the same link again": func(w http.ResponseWriter) {
			w.Header().Set("Link", `</events?after=1&pad=`+long+`>; rel="next"`)
			io.WriteString(w, `{"events":[]}`) //nolint:errcheck // a test's answer
		},
		"the connection closed": func(w http.ResponseWriter) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		},
	} {
		c := serving(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("after") == "" {
				w.Header().Set("Link", `</events?after=1&pad=`+long+`>; rel="next"`)
				io.WriteString(w, `{"events":[]}`) //nolint:errcheck // a test's answer
				return
			}
			second(w)
		})
		c.standStill = 50 * time.Millisecond // an empty page at the same place is asked again, this long
		var last error
		for _, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
			last = err
		}
		if last == nil || len(last.Error()) > 2048 {
			t.Errorf("%s: the read ended with an error of %d bytes; expected one of at most 2 KiB", name, len(fmt.Sprint(last)))
		}
	}
}

// TestAPageEndsAtAnEventNotPastTheLinkThatFetchedIt: a page's events
// were checked against the events read before them, not against the next
// link that fetched the page: a page for a link at after=10 (Tributary
// writes it at its page's last event; a server may write it past that,
// at the last position it looked at) whose events start at 5 (a server
// or cache that answered another request) was yielded as new, events
// the link said were not there. Every event of a page must now be past
// the link's after (at or past its from for a stream, at or before it
// backward), or the read ends with an error, after the events before it.
func TestAPageEndsAtAnEventNotPastTheLinkThatFetchedIt(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	for name, tc := range map[string]struct {
		log         bool
		backward    bool
		first, link int   // the first page's places (1, 2 forward; 9, 8 backward) and its link's
		second      []int // the second page's places
		good        int   // the events yielded before the error; -1: every one and no error
	}{
		"the log, before after":        {log: true, link: 10, second: []int{5, 11}, good: 2},
		"the log, at after":            {log: true, link: 10, second: []int{10, 11}, good: 2},
		"the log, past after":          {log: true, link: 10, second: []int{11, 12}, good: -1},
		"a stream, before from":        {link: 4, second: []int{3, 4}, good: 2},
		"a stream, at from":            {link: 3, second: []int{3, 4}, good: -1},
		"a stream backward, past from": {backward: true, link: 5, second: []int{7, 6}, good: 2},
		"a stream backward, at from":   {backward: true, link: 7, second: []int{7, 6, 5, 4, 3, 2, 1}, good: -1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			first := []int{1, 2}
			if tc.backward {
				first = []int{9, 8}
			}
			param := map[bool]string{true: "after", false: "from"}[tc.log]
			c := serving(t, func(w http.ResponseWriter, r *http.Request) {
				places := first
				if r.URL.Query().Get(param) != "" && (!tc.backward || r.URL.Query().Get(param) != "9") {
					places = tc.second
				} else {
					w.Header().Set("Link", fmt.Sprintf(`<%s?%s=%d>; rel="next"`, r.URL.Path, param, tc.link))
				}
				var evs []string
				for _, p := range places {
					if tc.log {
						// Each in a stream of its own: in the log, a
						// stream's versions come without a gap.
						evs = append(evs, eventJSON(uuid.New(), uuid.New(), 1, p))
						continue
					}
					evs = append(evs, eventJSON(uuid.New(), stream, p, p))
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"events":[%s]}`, strings.Join(evs, ",")) //nolint:errcheck // a test's answer
			})
			read := c.ReadStream(context.Background(), stream, ReadStreamOptions{})
			switch {
			case tc.log:
				read = c.ReadAll(context.Background(), ReadAllOptions{})
			case tc.backward:
				read = c.ReadStream(context.Background(), stream, ReadStreamOptions{From: 9, Direction: Backward})
			}
			got, last := readPositions(read)
			switch {
			case tc.good < 0 && last != nil:
				t.Errorf("read %v, then %v; expected every event and no error", got, last)
			case tc.good >= 0 && (len(got) != tc.good || last == nil || !strings.Contains(last.Error(), fmt.Sprintf("%s=%d", param, tc.link))):
				t.Errorf("read %v, then %v; expected %d events, then an error naming the link's %s=%d", got, last, tc.good, param, tc.link)
			}
		})
	}
}

// TestANextLinkThatAlreadyHoldsTheBasePathIsNotGivenItTwice: behind a
// base URL with a path (http://host/tributary/), the server's own links
// (</events?after=1>, from its root, which a proxy that strips the prefix
// puts there) go under that path; but so did a link that already held it,
// as a proxy that rewrites links to its public URL writes them, absolute
// on the server's own origin (<http://host/tributary/events?after=1>) or
// from the root: the read asked for /tributary/tributary/events, a 404,
// and ended. A link whose path is already its page's is now taken as it
// is; the server's own form still goes under the base path, also where
// the base path reads like the API's (/events).
func TestANextLinkThatAlreadyHoldsTheBasePathIsNotGivenItTwice(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	first, second := eventJSON(uuid.New(), stream, 1, 1), eventJSON(uuid.New(), stream, 2, 2)
	for _, tc := range []struct{ form, prefix string }{
		{"{origin}{prefix}{path}?{q}", "/tributary"},
		{"{prefix}{path}?{q}", "/tributary"},
		{"{origin}{prefix}{path}?{q}", "/a/b"},
		{"{origin}{path}?{q}", "/tributary"}, // the server's own form, absolute
		{"{path}?{q}", "/events"},            // the server's own form, under a base path like the API's
		{"{origin}{prefix}{path}?{q}", "/events"},
	} {
		t.Run(tc.form+" "+tc.prefix, func(t *testing.T) {
			t.Parallel()
			var wrong atomic.Value
			var origin string
			link := func(q, path string) string {
				return "<" + strings.NewReplacer("{origin}", origin, "{prefix}", tc.prefix, "{path}", path, "{q}", q).Replace(tc.form) + `>; rel="next"`
			}
			pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				q := r.URL.Query()
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.URL.Path == "/events" && q.Get("after") == "":
					w.Header().Set("Link", link("after=1", r.URL.Path))
					io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
				case r.URL.Path == "/events" && q.Get("after") == "1":
					io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
				case r.URL.Path == "/streams/"+stream.String()+"/events" && q.Get("from") == "":
					w.Header().Set("Link", link("from=2", r.URL.Path))
					io.WriteString(w, `{"stream_id":"`+stream.String()+`","version":2,"events":[`+first+`]}`) //nolint:errcheck // a test's answer
				case r.URL.Path == "/streams/"+stream.String()+"/events" && q.Get("from") == "2":
					io.WriteString(w, `{"stream_id":"`+stream.String()+`","version":2,"events":[`+second+`]}`) //nolint:errcheck // a test's answer
				default:
					answerNotFound(w, r, &wrong)
				}
			})
			srv := httptest.NewServer(http.StripPrefix(tc.prefix, pages))
			t.Cleanup(srv.Close)
			origin = srv.URL
			expectBothReadsOfTwoPages(t, srv.URL+tc.prefix+"/", stream, tc.form, tc.prefix, &wrong, "the second from the link's path, under the base path once")
		})
	}
}

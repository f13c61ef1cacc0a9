package tests

import (
	"encoding/json"
	"fmt"
	"testing"
)

// answerFirstRead has the page's first read whose path and query start
// with prefix answered with status, contentType and body (JavaScript
// string literal), from the page's first document on, in place of the
// server's answer.
func (b *browser) answerFirstRead(t *testing.T, prefix string, status int, contentType, body string) {
	t.Helper()
	b.beforePage(t, fmt.Sprintf(`const fetch0 = window.fetch;
		let answered = false;
		window.fetch = (u, o) => String(u).startsWith(%q) && !answered && (answered = true)
			? Promise.resolve(new Response(%s, {status: %d, headers: {'Content-Type': %q, 'Retry-After': '1'}})) : fetch0(u, o);`,
		prefix, body, status, contentType))
}

// answerFirstLive has the page's first live connection (GET
// /events?after=N, of text/event-stream) answered with response, a
// JavaScript expression of a Response, from the page's first document on,
// in place of the server's answer.
func (b *browser) answerFirstLive(t *testing.T, response string) {
	t.Helper()
	b.beforePage(t, `const fetch0 = window.fetch;
		let answered = false;
		window.fetch = (u, o) => /^\/events\?after=\d+$/.test(String(u)) && o?.headers?.Accept === 'text/event-stream' && !answered && (answered = true)
			? Promise.resolve(`+response+`) : fetch0(u, o);`)
}

// requirePageRecoversFromItsFirstReadAnswered starts the page on a stream
// of two events, has its first read of them answered with status,
// contentType and body (answerFirstRead), and requires the page to read
// them again, follow the stream live, and say no error.
func requirePageRecoversFromItsFirstReadAnswered(t *testing.T, status int, contentType, body string) {
	t.Helper()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.answerFirstRead(t, "/streams/"+id+"/events", status, contentType, body)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's events, read again", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail", statusJS, `"Live at version 2: caught up"`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
}

// TestPageWaitsOutABusyAnswerWhoseDetailIsNoText: a 503 (or 429) whose
// problem+json carries a detail that is no string (a number, here, from a
// proxy or another server in front) stopped the view for good with
// "detail.replace is not a function", where a busy server is waited out.
// A detail that is not text is taken as none.
func TestPageWaitsOutABusyAnswerWhoseDetailIsNoText(t *testing.T) {
	t.Parallel()
	requirePageRecoversFromItsFirstReadAnswered(t, 503, "application/problem+json", `'{"type":"about:blank","status":503,"detail":42}'`)
}

// TestPageSaysARefusalWhoseDetailIsNoTextInASentence: a refusal whose
// problem+json detail is an object was said as "[object Object]". It is
// said as an answer with no detail is, by its status.
func TestPageSaysARefusalWhoseDetailIsNoTextInASentence(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.answerFirstRead(t, "/streams/"+id, 400, "application/problem+json", `'{"type":"about:blank","status":400,"detail":{"why":"<b>no</b>"}}'`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the refusal said in a sentence", `return document.getElementById('error').textContent`, `"The server answered HTTP 400."`)
}

// TestPageRecoversFromAnAnswerThatIsNotJSON: a read answered 200 with no
// JSON (a captive portal's or a misrouted proxy's HTML page) stopped the
// view for good with "Cannot read properties of null (reading 'events')".
// It is said as what it is, and tried again as a 5xx is.
func TestPageRecoversFromAnAnswerThatIsNotJSON(t *testing.T) {
	t.Parallel()
	requirePageRecoversFromItsFirstReadAnswered(t, 200, "text/html", `'<html><body>Sign in to the network</body></html>'`)
}

// TestPageWaitsOutABusySubscriptionRefusalWhoseDetailIsNoText: the live
// connection refused with a 429 (or 503) whose problem+json detail is no
// string threw as it said why ("detail.replace is not a function"), and
// the page followed the log no more: its views said "Connecting…" for
// good. The refusal is waited out, as one with no detail is.
func TestPageWaitsOutABusySubscriptionRefusalWhoseDetailIsNoText(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.answerFirstLive(t, `new Response('{"type":"about:blank","status":429,"detail":["slow","down"]}', {status: 429, headers: {'Content-Type': 'application/problem+json', 'Retry-After': '1'}})`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail, once the refusal is waited out", statusJS, `"Live at version 2: caught up"`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, live", versionsJS, "[3,2,1]")
}

// TestPageWaitsNoLongerThanHalfAMinuteForARefusedLiveConnection: the live
// connection refused with a 429 or 503 waited what its Retry-After said,
// however long (the page's reads wait 30 s at most): an hour, here, with
// the live log standing still; past 24.8 days the browser's timer
// overflowed and it tried again at once, again and again. It waits as the
// reads do, 30 s at most and a random part.
func TestPageWaitsNoLongerThanHalfAMinuteForARefusedLiveConnection(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.answerFirstLive(t, `new Response('', {status: 429, headers: {'Retry-After': '3600'}})`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the refusal said, with a wait of 30 s and its random part at most", `const m = /trying again in (\d+) s/.exec(document.getElementById('stream-status').textContent);
		return m ? Number(m[1]) <= 45 : 'no wait said'`, "true")
}

// TestPageReconnectsWithinHalfAMinuteWhateverTheServersRetry: the live
// connection, once ended, was opened again after the server's retry:
// field, however long: an hour's held the live log still for an hour, and
// one past 24.8 days overflowed the browser's timer, which fired at once,
// reconnecting without pause each time the server ended it. It waits 30 s
// at most, and a random part, as after a refusal. The first connection
// here sends only "retry: 3600000" and ends; the page's waits are noted.
func TestPageReconnectsWithinHalfAMinuteWhateverTheServersRetry(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.beforePage(t, `const setTimeout0 = window.setTimeout;
		window.longWaits = [];
		window.setTimeout = (f, ms, ...a) => { if (ms > 45000) window.longWaits.push(ms); return setTimeout0(f, ms, ...a); };`)
	b.answerFirstLive(t, `new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('retry: 3600000\n\n')); c.close(); } }),
		{status: 200, headers: {'Content-Type': 'text/event-stream'}})`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the connection said lost", `return document.getElementById('stream-status').textContent.startsWith('Connection lost')`, "true")
	if got := b.run(t, `return window.longWaits`); got != "[]" {
		t.Errorf("the page's waits past 45 s after the server's retry: %s; want none", got)
	}
}

// TestPageShowsMarkupInAnEventAsText: an event whose type, stream type,
// data and metadata hold markup (a server, or a proxy, that lets anything
// through; the service's own names are plain ASCII) is shown as the text
// it is: nothing of it becomes an element of the page, nor runs. The
// stream's reads are rewritten here so that its events carry markup in
// every field the page shows.
func TestPageShowsMarkupInAnEventAsText(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.beforePage(t, `const fetch0 = window.fetch;
		const mark = '<img src=x onerror="window.injected=1"><script>window.injected=2</script>\u202e';
		window.fetch = (u, o) => !String(u).startsWith('/streams/') || !String(u).includes('/events') ? fetch0(u, o)
			: fetch0(u, o).then(async (r) => {
				const body = await r.json();
				for (const e of body.events || []) { e.type = mark; e.stream_type = mark; e.data = { html: mark }; e.metadata = { html: mark }; }
				return new Response(JSON.stringify(body), { status: r.status, headers: { 'Content-Type': 'application/json' } });
			});`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the events", versionsJS, "[2,1]")
	b.waitFor(t, "the markup shown as text, and nothing of it run or made an element",
		`return [document.querySelector('#stream-events .ev-type').textContent.includes('<img src=x onerror'),
			document.querySelectorAll('#stream-events img, #stream-events script, main img').length, window.injected ?? null]`,
		`[true,0,null]`)
}

// TestPageShowsBidiControlsInNamesAsEscapes: an event's type and a
// stream's type holding a right-to-left override (U+202E; a server, or a
// proxy, that lets anything through: the service's own names are plain
// ASCII) were shown as they were, where data shows it as its escape: the
// rest of the line turned around, the stream's link and position
// included. Names show it as data does, in the live log, the stream list
// (and its caption, from the link) and a stream's view. The reads are
// rewritten here so that every name the page shows carries one.
func TestPageShowsBidiControlsInNamesAsEscapes(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.beforePage(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => fetch0(typeof u === 'string' ? u.replace('%E2%80%AE', '') : u, o).then(async (r) => {
			if (!/^application\/json/.test(r.headers.get('Content-Type') || '')) return r;
			const body = await r.json();
			for (const e of body.events || []) { e.type = 'Order\u202eNoted'; e.stream_type = 'ord\u202eer'; }
			for (const e of body.streams || []) e.stream_type = 'ord\u202eer';
			if (typeof body.stream_type === 'string') body.stream_type = 'ord\u202eer';
			const headers = new Headers(r.headers);
			headers.delete('Content-Length');
			return new Response(JSON.stringify(body), { status: r.status, headers });
		});`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log's names, escaped",
		`const li = document.querySelector('#log-events li'); return li && [li.querySelector('.ev-type').textContent, li.querySelector('.ev-head a').textContent.split(' ')[0]]`,
		`["Order\\u202eNoted","ord\\u202eer"]`)
	b.navigate(t, s.URL+"/#/streams?stream_type=order%E2%80%AE")
	b.waitFor(t, "the stream list's caption, its type from the link escaped", `return document.getElementById('streams-caption').textContent`,
		`"Streams of type order\\u202e, page 1"`)
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the stream list's type, escaped", `return document.querySelector('#streams-table tbody td:nth-child(2)')?.textContent`, `"ord\\u202eer"`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's names, escaped",
		`const t = document.querySelector('#stream-events .ev-type'); return t && [t.textContent, document.getElementById('stream-stream-type').textContent]`,
		`["v2 Order\\u202eNoted","ord\\u202eer"]`)
}

// TestPageWaitsARetryAfterGivenAsADate: a refusal's Retry-After given as
// an HTTP-date (RFC 9110's other form, which proxies and CDNs send), 20 s
// ahead here, was taken for none: the page asked again after its own
// backoff, 1 s, a read and the live connection alike. It waits until
// that date (30 s at most, as ever). What the page says of its wait is
// read, not the wait timed: a slow machine says a little less.
func TestPageWaitsARetryAfterGivenAsADate(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.beforePage(t, `const fetch0 = window.fetch;
		let read = false, live = false;
		const refusal = (status) => Promise.resolve(new Response('', {status, headers: {'Retry-After': new Date(Date.now() + 20000).toUTCString()}}));
		window.fetch = (u, o) => {
			const sse = o?.headers?.Accept === 'text/event-stream';
			if (String(u).startsWith('/streams/') && String(u).includes('/events') && !sse && !read) return (read = true), refusal(503);
			if (/^\/events\?after=\d+$/.test(String(u)) && sse && !live) return (live = true), refusal(429);
			return fetch0(u, o);
		};`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the read's wait, until the date", `const m = /Trying again in (\d+) s/.exec(document.getElementById('error').textContent);
		return m ? Number(m[1]) >= 10 && Number(m[1]) <= 45 : 'no wait said'`, "true")
	b.waitFor(t, "the live connection's wait, until the date", `const m = /trying again in (\d+) s/.exec(document.getElementById('stream-status').textContent);
		return m ? Number(m[1]) >= 10 && Number(m[1]) <= 45 : 'no wait said'`, "true")
}

// TestPageReconnectsNoSoonerThanASecondWhateverTheServersRetry: the
// server's "retry: 0" was taken as it was: a live connection that a
// server (or a proxy) ended at once was opened again without pause, again
// and again, as fast as the network went, each a request to the server.
// The page waits a second at least. The first three connections here send
// only "retry: 0" and end; the times the page opens them are noted, as
// those of the fourth, the server's.
func TestPageReconnectsNoSoonerThanASecondWhateverTheServersRetry(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.beforePage(t, `const fetch0 = window.fetch;
		window.opened = [];
		window.fetch = (u, o) => {
			if (!/^\/events\?after=\d+$/.test(String(u)) || o?.headers?.Accept !== 'text/event-stream' || window.opened.length >= 4) return fetch0(u, o);
			window.opened.push(performance.now());
			if (window.opened.length === 4) return fetch0(u, o);
			return Promise.resolve(new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('retry: 0\n\n')); c.close(); } }),
				{status: 200, headers: {'Content-Type': 'text/event-stream'}}));
		};`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail, on the fourth connection", statusJS, `"Live at version 2: caught up"`)
	got := b.run(t, `const o = window.opened; return o.length === 4 ? o.slice(1).map((at, i) => Math.round(at - o[i])) : 'connections: ' + o.length`)
	var waits []float64
	if err := json.Unmarshal([]byte(got), &waits); err != nil {
		t.Fatalf("the waits between connections: %s; want three numbers", got)
	}
	for _, w := range waits {
		if w < 1000 {
			t.Fatalf("the waits between connections, in ms: %s; want each a second at least", got)
		}
	}
}

// TestPageRecoversFromAnAnswerThatIsAJSONArray: a read answered 200 with
// JSON that is no object (an array, from a proxy or another server in
// front) got past the check for an answer that is not JSON, and stopped
// the view for good, with a TypeError ("Spread syntax requires …"). It is
// said as an answer that is no JSON object is, and tried again as a 5xx.
func TestPageRecoversFromAnAnswerThatIsAJSONArray(t *testing.T) {
	t.Parallel()
	requirePageRecoversFromItsFirstReadAnswered(t, 200, "application/json", `'[]'`)
}

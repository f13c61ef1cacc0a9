package tests

import "testing"

// TestPageWaitsOutABusyAnswerToItsCheckOfItsPosition: the reads of the
// event at the page's position (as the tab opens, and before each live
// connection) answered 429, then 503, are waited out as the connection's
// own refusals are: the page follows the log, and stops for none of them.
// The checks are told from the page's other reads of one event by who
// makes them (idAt as the tab opens, open before each connection), not by
// their URL: a read of the head as the tab opens (headByReads) asks for
// the same one, and the page asked for its checks in another parameter
// order only for this test to tell them.
func TestPageWaitsOutABusyAnswerToItsCheckOfItsPosition(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.beforePage(t, `const fetch0 = window.fetch;
		window.checks = 0;
		const check = (u) => /^\/events\?after=1&limit=1$/.test(String(u)) && /\bat (async )?(idAt|open)\b/.test(new Error().stack);
		window.fetch = (u, o) => check(u) && o?.headers?.Accept === 'application/json' && window.checks++ < 2
			? Promise.resolve(new Response('{"status":429,"detail":"Slow down."}', {status: window.checks === 1 ? 429 : 503, headers: {'Content-Type': 'application/problem+json', 'Retry-After': '1'}}))
			: fetch0(u, o);`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail, once both refusals are waited out", `return [window.checks >= 2, document.getElementById('stream-status').textContent]`, `[true,"Live at version 2: caught up"]`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the new event, live", versionsJS, "[3,2,1]")
}

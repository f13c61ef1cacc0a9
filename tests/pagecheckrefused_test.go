package tests

import "testing"

// TestPageWaitsOutABusyAnswerToItsCheckOfItsPosition: the reads of the
// event at the page's position (as the tab opens, and before each live
// connection) answered 429, then 503, are waited out as the connection's
// own refusals are: the page follows the log, and stops for none of them.
func TestPageWaitsOutABusyAnswerToItsCheckOfItsPosition(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.beforePage(t, `const fetch0 = window.fetch;
		window.checks = 0;
		window.fetch = (u, o) => /^\/events\?limit=1&after=1$/.test(String(u)) && o?.headers?.Accept === 'application/json' && window.checks++ < 2
			? Promise.resolve(new Response('{"status":429,"detail":"Slow down."}', {status: window.checks === 1 ? 429 : 503, headers: {'Content-Type': 'application/problem+json', 'Retry-After': '1'}}))
			: fetch0(u, o);`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail, once both refusals are waited out", `return [window.checks >= 2, document.getElementById('stream-status').textContent]`, `[true,"Live at version 2: caught up"]`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the new event, live", versionsJS, "[3,2,1]")
}

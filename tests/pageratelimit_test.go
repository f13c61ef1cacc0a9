package tests

import "testing"

// TestPageRateLimitedInFrontWaitsAndFollowsTheLog: a rate limiter in front
// of the service (Traefik's, a CDN's) answers 429 with a Retry-After. The
// page took that as a refusal no retry mends: its live connection said
// "Stopped: The server answered HTTP 429." and followed the log no more,
// and a view whose read was so answered said "Stopped", until a reload.
// A 429 is now waited out as a 503 is (Retry-After at least, with
// backoff), and the page follows the log by itself. Here the page's first
// subscription and its first read of the live log are answered 429.
func TestPageRateLimitedInFrontWaitsAndFollowsTheLog(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
	b.beforePage(t, `const fetch0 = window.fetch;
		window.limited = {live: 0, read: 0};
		const tooMany = () => Promise.resolve(new Response('<html><body>429 Too Many Requests</body></html>',
			{status: 429, headers: {'Content-Type': 'text/html', 'Retry-After': '1'}}));
		window.fetch = (u, o) => {
			const live = o?.headers?.Accept === 'text/event-stream';
			if (String(u).startsWith('/events?after=') && live && window.limited.live++ === 0) return tooMany();
			if (String(u).startsWith('/events?after=') && String(u).includes('limit=') && !live && window.limited.read++ === 0) return tooMany();
			return fetch0(u, o);
		};`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log, without a reload", positionsJS, "[2,1]")
	b.waitFor(t, "the live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 2: caught up"`)
	b.waitFor(t, "both the subscription and the read answered 429 once", `return [window.limited.live > 1, window.limited.read > 1]`, "[true,true]")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.waitFor(t, "the next event, live", positionsJS, "[3,2,1]")
	b.waitFor(t, "no error left", `return document.getElementById('error').textContent`, `""`)
}

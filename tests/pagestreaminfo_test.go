package tests

import "testing"

// TestPageStreamViewRecoversFromAFailedReadOfTheStream: a stream's view
// reads the stream's details first. When that read failed for want of the
// server (a network drop, a restart, no answer within 10 s, a 5xx) the view
// said "Stopped" and stayed so, its tail never started, until the user
// reloaded or left, where the live log, the stream list and the stream's
// own history read try again. It now tries again too, with backoff, says
// when, and shows the stream once the server answers. Here the first read
// of the stream fails as a dropped connection does.
func TestPageStreamViewRecoversFromAFailedReadOfTheStream(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.dropFirstRead(t, "/streams/"+id, "streamReads")
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's events, read again", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail", statusJS, `"Live at version 2: caught up"`)
	b.waitFor(t, "the stream's type in its details", `return document.getElementById('stream-stream-type').textContent`, `"order"`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "the next event, live", versionsJS, "[3,2,1]")
}

// TestPageOpenedWhileAProxyAnswers502RecoversByItself: a page opened
// while a reverse proxy in front of the service answers 502 Bad Gateway
// (the service restarting behind it) learned no head: the reads by which
// it learns one took a 5xx for a refusal no retry mends, and the page
// said "HTTP 502" for good, its live log empty and no subscription
// opened, until a reload. A 5xx there is tried again, with backoff, as a
// dropped connection is, and an answer with no problem of its own is said
// in a sentence. Here the page's first two reads of /events (its
// head probe and its first read of the log) are answered so.
func TestPageOpenedWhileAProxyAnswers502RecoversByItself(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	b.beforePage(t, `const fetch0 = window.fetch;
		window.badGateways = 0;
		window.fetch = (u, o) => String(u).startsWith('/events') && window.badGateways++ < 2
			? Promise.resolve(new Response('<html><body>502 Bad Gateway</body></html>', {status: 502, headers: {'Content-Type': 'text/html'}}))
			: fetch0(u, o);`)
	b.navigate(t, s.URL+"/#/")
	// In a sentence: "HTTP 502 Trying again in 1 s…" read as a fragment.
	b.waitFor(t, "the page to say what the server answered, and that it tries again",
		`return /^The server answered HTTP 502\. Trying again in \d+ s…$/.test(document.getElementById('error').textContent)`, "true")
	b.waitFor(t, "the live log, without a reload", positionsJS, "[3,2,1]")
	b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"3"`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.waitFor(t, "the next event, live", positionsJS, "[4,3,2,1]")
}

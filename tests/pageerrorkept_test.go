package tests

import "testing"

// TestPageKeepsAnErrorItDidNotSayWhenANewStreamGetsItsFirstEvent: a view
// of a stream that does not exist yet says so, and once the stream's first
// event came it cleared the page's error, whatever it said by then: a
// message the user had not read (here the count of streams refused)
// vanished with it. It now takes back only its own message. The count's
// answer is held until the stream's message is shown, so that the count's
// is the one on the page when the event comes. Its own message still goes
// at the first event: here of a second stream, the count said already.
func TestPageKeepsAnErrorItDidNotSayWhenANewStreamGetsItsFirstEvent(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	b.beforePage(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => !String(u).startsWith('/streams?limit=') ? fetch0(u, o)
			: new Promise((r) => { const t = setInterval(() => { if (window.answerCount) { clearInterval(t); r(); } }, 20); })
				.then(() => new Response(JSON.stringify({type: 'about:blank', title: 'Forbidden', status: 403, detail: 'Counting is not allowed here.'}),
					{status: 403, headers: {'Content-Type': 'application/problem+json'}}));`)
	id := newID()
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's absence said", `return document.getElementById('error').textContent`,
		`"This stream does not exist yet; its events will appear here when they are written."`)
	b.run(t, `window.answerCount = true; return null`)
	const counting = `"Counting streams failed: Counting is not allowed here."`
	b.waitFor(t, "the count's refusal said", `return document.getElementById('error').textContent`, counting)
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.waitFor(t, "the stream's type in its details", `return document.getElementById('stream-stream-type').textContent`, `"order"`)
	b.waitFor(t, "the count's refusal still said", `const e = document.getElementById('error'); return e.hidden ? '(hidden)' : e.textContent`, counting)

	other := newID()
	b.navigate(t, s.URL+"/#/streams/"+other)
	b.waitFor(t, "the second stream's absence said", `return document.getElementById('error').textContent`,
		`"This stream does not exist yet; its events will appear here when they are written."`)
	s.mustAppend(t, other, appendBody{StreamType: "invoice", Events: events(1, "InvoiceNoted")})
	b.waitFor(t, "the second stream's type in its details", `return document.getElementById('stream-stream-type').textContent`, `"invoice"`)
	b.waitFor(t, "the stream's own message gone", `return document.getElementById('error').hidden`, "true")
}

package tests

import (
	"fmt"
	"testing"
)

// TestPageLeftViewEndsItsWaitAtOnce: a view whose read is answered 429 or
// 503 waits the Retry-After (up to 30 s, with backoff) before it asks
// again, and one answered 5xx, or not at all, waits its backoff (up to
// 30 s). Left meanwhile, it slept the wait out, and only then stopped: its
// timer, and the promise of all it was to do after it, were held for
// nothing. Leaving the view now ends the wait at once. Each case answers
// one read of a view so, and leaves the view (for one that reads nothing)
// as soon as the page says it will try again: the wait's timer is seen
// cleared, not run.
func TestPageLeftViewEndsItsWaitAtOnce(t *testing.T) {
	t.Parallel()
	id := newID()
	for _, c := range []struct{ name, hash, read, answer string }{
		// A stream's details, answered 429 with Retry-After: 30 (api's wait).
		{"stream 429", "#/streams/" + id, `u === '/streams/` + id + `'`, `429, {'Retry-After': '30'}`},
		// A stream's details, answered 502 (the stream view's backoff).
		{"stream 502", "#/streams/" + id, `u === '/streams/` + id + `'`, `502, {}`},
		// The list of streams, answered 502 (the list's backoff).
		{"list 502", "#/streams", `u.startsWith('/streams?limit=50')`, `502, {}`},
		// The live log's first read, answered 502 (the live views' backoff).
		{"log 502", "#/", `u.startsWith('/events?after=') && !live`, `502, {}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, b := startPageOnSQLite(t)
			s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
			// Once the view says it will try again, it is left, and the
			// waits pending then are kept.
			b.beforePage(t, failReadsThenWhenTryingAgain(c.read, c.answer, `location.hash = '#/nowhere'`))
			b.navigate(t, s.URL+"/#/nothing")
			b.waitFor(t, "the totals", `return document.getElementById('stat-streams').textContent`, `"1"`)
			b.run(t, fmt.Sprintf(`window.failing = true; location.hash = %q; return null`, c.hash))
			b.waitFor(t, "the view tried again, and was left", `return [window.kept?.length > 0, document.title]`, `[true,"No such view · Tributary"]`)
			b.waitFor(t, "the left view's wait ended at once", `const s = window.kept.map((id) => window.timers.get(id).s);
				return s.every((x) => x === 'cleared') || s`, "true")
		})
	}
}

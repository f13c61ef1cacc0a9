package tests

import (
	"testing"
)

// TestPageCountsEachStreamCreatedWhileItOpensOnce: the stream count at the
// top is one read of the stream list, then one more for each stream whose
// first event comes live. A stream created as the page opened, after the
// log's head it follows from and before that read, was counted by the read
// and again when its first event came: 15 streams said where there were 12.
func TestPageCountsEachStreamCreatedWhileItOpensOnce(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	// The count's read and the live connection wait until the test lets
	// each go: the streams are created after the page learnt the head.
	b.beforePage(t, `const fetch0 = window.fetch;
		const hold = () => { let go; const p = new Promise((r) => { go = r; }); return [p, go]; };
		const [counting, countGo] = hold(), [living, liveGo] = hold();
		Object.assign(window, { asked: [], countGo, liveGo });
		window.fetch = (u, o) => {
			const path = String(u);
			if (path === '/streams?limit=100') return window.asked.push('count'), counting.then(() => fetch0(u, o));
			if (path.startsWith('/events?after=') && o?.headers?.Accept === 'text/event-stream') return window.asked.push('live'), living.then(() => fetch0(u, o));
			return fetch0(u, o);
		};`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the count's read and the live connection on their way", `return window.asked.toSorted()`, `["count","live"]`)
	for range 2 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	}
	const totalsJS = `return ['stat-position', 'stat-streams'].map((id) => document.getElementById(id).textContent)`
	b.run(t, `window.countGo(); return null`)
	b.waitFor(t, "the three streams the read lists", `return document.getElementById('stat-streams').textContent`, `"3"`)
	b.run(t, `window.liveGo(); return null`)
	b.waitFor(t, "the two new streams' events, live, counted no more", totalsJS, `["3","3"]`)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.waitFor(t, "a stream created since, counted", totalsJS, `["4","4"]`)
}

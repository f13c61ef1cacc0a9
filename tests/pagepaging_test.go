package tests

import "testing"

// TestPageCountsStreamsFromOnePageOfTheList: the count of streams at the
// top read up to 20 pages of 1,000 streams as each tab opened, 4 to 5 MB
// a tab with 20,000 streams, to count them. It reads one page of 100,
// and says "100+" where there are more than that.
func TestPageCountsStreamsFromOnePageOfTheList(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	for range 110 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	}
	b.beforePage(t, `const fetch0 = window.fetch;
		window.streamReads = [];
		window.fetch = (u, o) => {
			if (String(u).startsWith('/streams?')) window.streamReads.push(String(u));
			return fetch0(u, o);
		};`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log", `return document.getElementById('log-status').textContent`, `"Live at position 110: caught up"`)
	b.waitFor(t, "the count, as one page's", `return document.getElementById('stat-streams').textContent`, `"100+"`)
	b.waitFor(t, "one read of the list, of one page", `return window.streamReads`, `["/streams?limit=100"]`)
	// A stream created meanwhile is counted on.
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.waitFor(t, "the count, one more", `return document.getElementById('stat-streams').textContent`, `"101+"`)
}

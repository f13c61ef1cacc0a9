package tests

import "testing"

// TestPageShowsNothingItHides: "Show the latest events, live" and "Load
// later events", a stream's pager for a view that starts at a linked
// event, were shown on every stream's view, its live tail too (where
// neither means anything): the page hides them with the hidden attribute,
// and the pager's display: flex overrode it. Nothing the page hides is
// shown, in any view.
func TestPageShowsNothingItHides(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 3, "OrderNoted")
	const shownHidden = `return [...document.querySelectorAll('[hidden]')].filter(e => getComputedStyle(e).display !== 'none').map(e => e.id || e.tagName)`

	b.openLiveStream(t, s, id, 3, "the live tail")
	b.waitFor(t, "the stream's pager, hidden, not shown", `return document.getElementById('stream-window').hidden`, "true")
	b.waitFor(t, "nothing hidden shown in the stream's view", shownHidden, "[]")
	b.openStreamList(t, s, 1)
	b.waitFor(t, "nothing hidden shown in the stream list", shownHidden, "[]")
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log's events", `return document.querySelectorAll('#log-events li').length`, "3")
	b.waitFor(t, "nothing hidden shown in the live log", shownHidden, "[]")
}

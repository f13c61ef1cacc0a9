package tests

import "testing"

// rowsJS returns the view's rows, as [count, first key, last key], and the
// location's hash.
const (
	streamRowsJS = `const k = [...document.querySelectorAll('#stream-events li')].map((li) => Number(li.dataset.version)); return [k.length, k[0], k.at(-1), location.hash.replace(/^#\/streams\/[^?]*/, '')]`
	logRowsJS    = `const k = [...document.querySelectorAll('#log-events li')].map((li) => Number(li.dataset.position)); return [k.length, k[0], k.at(-1), location.hash]`
)

// reload reloads the current tab's page, and waits for the new document.
func (b *browser) reload(t *testing.T) {
	t.Helper()
	b.run(t, `window.notReloaded = true; location.reload(); return null`)
	b.waitFor(t, "a new document", `return window.notReloaded === undefined`, "true")
}

// TestPageKeepsTheEarlierPagesLoadedInTheLink: "Load earlier events" (a
// stream's, live or from an event's link) and "Load older events" (the
// live log's) changed nothing of the link: a reload, or the link shared,
// showed the latest events again, and the browser's back button left the
// view. The oldest shown is in the fragment (from=), each page loaded a
// new entry of the tab's history: a reload shows the same events, and
// back shows those before the last page loaded.
func TestPageKeepsTheEarlierPagesLoadedInTheLink(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 230, "OrderNoted")

	b.openLiveStream(t, s, id, 230, "the live tail")
	b.waitFor(t, "the latest 50", streamRowsJS, `[50,230,181,""]`)
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the next 50, in the link", streamRowsJS, `[100,230,131,"?from=131"]`)
	b.reload(t)
	b.waitFor(t, "the same events after a reload", streamRowsJS, `[100,230,131,"?from=131"]`)
	b.waitFor(t, "the tail live", statusJS, `"Live at version 230: caught up"`)
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the next 50", streamRowsJS, `[150,230,81,"?from=81"]`)
	b.run(t, `history.back(); return null`)
	b.waitFor(t, "the events before the last page, by the back button", streamRowsJS, `[100,230,131,"?from=131"]`)
	b.run(t, `history.back(); return null`)
	b.waitFor(t, "the latest, by the back button", streamRowsJS, `[50,230,181,""]`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, live", streamRowsJS, `[51,231,181,""]`)

	// An event's link, and the pages before it.
	b.navigate(t, s.URL+"/#/streams/"+id+"?version=100")
	b.waitFor(t, "the event and those before it", streamRowsJS, `[50,100,51,"?version=100"]`)
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the page before, in the link", streamRowsJS, `[100,100,1,"?version=100&from=1"]`)
	b.reload(t)
	b.waitFor(t, "the same events after a reload", streamRowsJS, `[100,100,1,"?version=100&from=1"]`)
	b.waitFor(t, "the event marked", `return document.querySelector('#stream-events li.target')?.dataset.version`, `"100"`)

	// The live log.
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the last 100 positions", logRowsJS, `[100,231,132,"#/"]`)
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "the 100 before, in the link", logRowsJS, `[200,231,32,"#/?from=32"]`)
	b.reload(t)
	b.waitFor(t, "the same events after a reload", logRowsJS, `[200,231,32,"#/?from=32"]`)
	b.waitFor(t, "the log live", `return document.getElementById('log-status').textContent`, `"Live at position 231: caught up"`)
	b.run(t, `history.back(); return null`)
	b.waitFor(t, "the last 100, by the back button", logRowsJS, `[100,231,132,"#/"]`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, live", logRowsJS, `[101,232,132,"#/"]`)
}

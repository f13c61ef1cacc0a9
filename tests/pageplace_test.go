package tests

import (
	"testing"
	"time"
)

// rowsJS returns the view's rows, as [count, first key, last key], and the
// location's hash.
const (
	streamRowsJS = `const k = [...document.querySelectorAll('#stream-events li')].map((li) => Number(li.dataset.version)); return [k.length, k[0], k.at(-1), location.hash.replace(/^#\/streams\/[^?]*/, '')]`
	logRowsJS    = `const k = [...document.querySelectorAll('#log-events li')].map((li) => Number(li.dataset.position)); return [k.length, k[0], k.at(-1), location.hash]`
)

// restoreWait bounds the wait for a link's from= far back to be
// restored: up to RESTORE_PAGES (20) reads one after another, each laid
// out over more rows than the last (up to 2,100), paced by the page and
// the server, not one step of either. pageTimeout is for one step: with
// the whole CI run on 2 cores (a load near 25), the 20 pages took longer.
const restoreWait = 2 * time.Minute

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

// TestPageLinkFarBackSaysWhereItStoppedLoading: a link whose from= is
// more than RESTORE_PAGES (20) pages back loaded 20 and stopped without a
// word, the link still naming a place the view did not show. It says how
// far back it loaded, the link names that, and "Load earlier events" (or
// "Load older events") goes on from there and takes the note back.
func TestPageLinkFarBackSaysWhereItStoppedLoading(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1000, "OrderNoted")
	s.mustAppend(t, id, appendBody{Events: events(1000, "OrderNoted")})
	s.mustAppend(t, id, appendBody{Events: events(200, "OrderNoted")})
	const errorJS = `const e = document.getElementById('error'); return e.hidden ? '' : e.textContent`

	b.navigate(t, s.URL+"/#/streams/"+id+"?from=1")
	b.waitForWithin(t, restoreWait, "20 pages of 50 loaded, and the link naming the oldest shown", streamRowsJS, `[1050,2200,1151,"?from=1151"]`)
	b.waitFor(t, "where it stopped, said", errorJS,
		`"The link asks for the events from version 1: 20 pages of earlier events were loaded, back to version 1151. Load earlier events to go further back."`)
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the next page, in the link", streamRowsJS, `[1100,2200,1101,"?from=1101"]`)
	b.waitFor(t, "the note taken back", errorJS, `""`)

	b.navigate(t, s.URL+"/#/?from=1")
	b.waitForWithin(t, restoreWait, "20 pages of 100 positions loaded, and the link naming the oldest shown", logRowsJS, `[2100,2200,101,"#/?from=101"]`)
	b.waitFor(t, "where it stopped, said", errorJS,
		`"The link asks for the log from position 1: 20 pages of older events were loaded, back to position 101. Load older events to go further back."`)
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "the rest, in the link", logRowsJS, `[2200,2200,1,"#/?from=1"]`)
	b.waitFor(t, "the note taken back", errorJS, `""`)
}

// TestPageLinkFollowsTheOldestRowLeftWhenLiveEventsPushRowsOut: a view
// with earlier pages loaded keeps its newest 500 rows and those pages;
// live events past that push the oldest rows out, and the link's from=
// still named them: a reload, or the link shared, loaded rows the view
// no longer showed. The link follows the oldest row left.
func TestPageLinkFollowsTheOldestRowLeftWhenLiveEventsPushRowsOut(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 230, "OrderNoted")

	b.openLiveStream(t, s, id, 230, "the live tail")
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the next 50, in the link", streamRowsJS, `[100,230,131,"?from=131"]`)
	s.mustAppend(t, id, appendBody{Events: events(460, "OrderShipped")})
	b.waitFor(t, "the oldest rows pushed out, and the link following the oldest left", streamRowsJS, `[550,690,141,"?from=141"]`)
	b.reload(t)
	b.waitFor(t, "the same rows after a reload", streamRowsJS, `[550,690,141,"?from=141"]`)

	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the last 100 positions", logRowsJS, `[100,690,591,"#/"]`)
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "the 100 before, in the link", logRowsJS, `[200,690,491,"#/?from=491"]`)
	s.mustAppend(t, id, appendBody{Events: events(401, "OrderShipped")})
	b.waitFor(t, "the oldest row pushed out, and the link following the oldest left", logRowsJS, `[600,1091,492,"#/?from=492"]`)
	b.reload(t)
	b.waitFor(t, "the same rows after a reload", logRowsJS, `[600,1091,492,"#/?from=492"]`)
}

// TestPageSaysALinksFromThatIsNoPlace: a hand-edited from= that is no
// place (abc, -1, 0, past 15 digits) was silently ignored and left in the
// link, the view showing the latest as if the link were right, where a
// version that is none is said to be. It is said, and taken out of the
// link; an empty one is only taken out.
func TestPageSaysALinksFromThatIsNoPlace(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 230, "OrderNoted")
	const errorJS = `const e = document.getElementById('error'); return e.hidden ? '' : e.textContent`

	b.navigate(t, s.URL+"/#/streams/"+id+"?from=abc")
	b.waitFor(t, "the latest 50, the link without from=", streamRowsJS, `[50,230,181,""]`)
	b.waitFor(t, "the from= said", errorJS, `"\"abc\" is no place to load from: from= is a whole number from 1; it is left out of the link."`)
	b.navigate(t, s.URL+"/#/streams/"+id+"?version=100&from=99999999999999999999")
	b.waitFor(t, "the event's page, the link without from=", streamRowsJS, `[50,100,51,"?version=100"]`)
	b.waitFor(t, "the from= said", errorJS, `"\"99999999999999999999\" is no place to load from: from= is a whole number from 1; it is left out of the link."`)
	b.navigate(t, s.URL+"/#/?from=-1")
	b.waitFor(t, "the last 100 positions, the link without from=", logRowsJS, `[100,230,131,"#/"]`)
	b.waitFor(t, "the from= said", errorJS, `"\"-1\" is no place to load from: from= is a whole number from 1; it is left out of the link."`)
	b.navigate(t, s.URL+"/#/?type=OrderNoted&from=")
	b.waitFor(t, "the last 100 positions, the link without the empty from=", logRowsJS, `[100,230,131,"#/?type=OrderNoted"]`)
	b.waitFor(t, "nothing said", errorJS, `""`)
}

// TestPageBackWhileAnEarlierPageLoadsShowsNoStaleRows: the back button
// pressed while a page of earlier events is on its way shows the entry
// before, and the page that then arrives adds nothing to it, nor an entry
// to the tab's history; forward shows the pages the link names. The read
// of that page is held here until the view it was for is left.
func TestPageBackWhileAnEarlierPageLoadsShowsNoStaleRows(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 230, "OrderNoted")
	b.beforePage(t, `const fetch0 = window.fetch;
		let release;
		window.held = 0;
		const gate = new Promise((r) => { release = r; });
		window.release = () => release();
		window.fetch = (u, o) => String(u).includes('direction=backward&from=130') && !window.held++ ? gate.then(() => fetch0(u, o)) : fetch0(u, o);`)
	b.openLiveStream(t, s, id, 230, "the live tail")
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the next 50, in the link", streamRowsJS, `[100,230,131,"?from=131"]`)
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the page after, on its way", `return window.held`, "1")
	b.run(t, `history.back(); return null`)
	b.waitFor(t, "the latest, by the back button", streamRowsJS, `[50,230,181,""]`)
	b.run(t, `window.release(); return null`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event, live, and nothing of the page left behind", streamRowsJS, `[51,231,181,""]`)
	b.run(t, `history.forward(); return null`)
	b.waitFor(t, "the pages the link names, by the forward button", streamRowsJS, `[150,231,82,"?from=131"]`)
	if got := b.run(t, `return history.length`); got != "3" {
		t.Errorf("the tab's history: %s entries; want 3 (the page left, and no entry for the page dropped)", got)
	}
}

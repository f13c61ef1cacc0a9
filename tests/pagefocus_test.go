package tests

import "testing"

// TestPageKeepsTheFocusWhereTheLastEarlierPageLoaded: "Load earlier
// events" (a stream's) and "Load older events" (the live log's), used
// from the keyboard, lost the focus at every click (disabled while its
// page loads, a button gives the focus up, to the document's start: the
// next Tab went to "Skip to content"), and once the last page had loaded
// hid themselves; nothing told a screen reader what had loaded. The
// focus now goes back to the button, or, hidden, to the first event
// loaded (its link), and the view's live region says what loaded.
func TestPageKeepsTheFocusWhereTheLastEarlierPageLoaded(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 150, "OrderNoted")

	b.openLiveStream(t, s, id, 150, "the live tail")
	b.run(t, `const b = document.getElementById('stream-earlier'); b.focus(); b.click(); return null`)
	b.waitFor(t, "the second page, the button still there and focused", `const b = document.getElementById('stream-earlier');
		return [document.querySelectorAll('#stream-events li').length, b.hidden, document.activeElement === b]`, "[100,false,true]")
	b.run(t, `document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "the focus on the first event of the last page", `const a = document.activeElement;
		return [document.getElementById('stream-earlier').hidden, a.tagName, a.closest('li')?.dataset.version]`, `[true,"A","50"]`)
	b.waitFor(t, "the live region to say what loaded", `return document.getElementById('stream-said').textContent`,
		`"Loaded 50 earlier events, versions 50 to 1."`)

	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log's last 100 positions", `return document.querySelectorAll('#log-events li').length`, "100")
	b.run(t, `const b = document.getElementById('log-older'); b.focus(); b.click(); return null`)
	b.waitFor(t, "the focus on the first event of the last page", `const a = document.activeElement;
		return [document.getElementById('log-older').hidden, a.tagName, a.closest('li')?.dataset.position]`, `[true,"A","50"]`)
	b.waitFor(t, "the live region to say what loaded", `return document.getElementById('log-said').textContent`,
		`"Loaded 50 older events, positions 50 to 1."`)
}

// TestPageKeepsTheFocusOnButtonsThatAreDisabledForAMoment: "Show all" of
// a large event whose text is read again, and "Next page" at the stream
// list's last page, used from the keyboard, lost the focus to the
// document's start: the one disabled while it reads, the other disabled
// for good where the list ends. "Show all" has it back once its read is
// done; at the last page, "Previous page" has it.
func TestPageKeepsTheFocusOnButtonsThatAreDisabledForAMoment(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	appendTwentyHalfMiBEvents(t, s, id, "blob")
	b.openLiveStream(t, s, id, 20, "the live tail")
	// The oldest event shown: its text was not kept (the latest are), and
	// "Show all" reads it again.
	const oldest = `[...document.querySelectorAll('#stream-events li')].at(-1).querySelector('button.more')`
	b.run(t, `const b = `+oldest+`; b.focus(); b.click(); return null`)
	b.waitFor(t, "the whole shown, the focus on its button", `const b = `+oldest+`;
		return [b.textContent, document.activeElement === b]`, `["Show less",true]`)

	for range 50 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	}
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the first page of the list", `return document.querySelectorAll('#streams-table tbody tr').length`, "50")
	b.run(t, `const b = document.getElementById('streams-next'); b.focus(); b.click(); return null`)
	b.waitFor(t, "the last page, the focus on Previous page", `return [document.querySelectorAll('#streams-table tbody tr').length,
		document.getElementById('streams-next').disabled, document.activeElement.id]`, `[1,true,"streams-previous"]`)
}

// TestPageSkipLinkMovesTheFocusAndKeepsTheView: "Skip to content", the
// first thing a keyboard reaches, is a link to #main, and the page's views
// are in the fragment: following it left the view shown for "This page
// has no view at "#main"", its reads stopped. It now moves the focus to
// the content, and the view and its link stay as they were.
func TestPageSkipLinkMovesTheFocusAndKeepsTheView(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.openStreamList(t, s, 1)
	b.run(t, `document.querySelector('a.skip').focus(); return null`)
	b.pressKey(t, "\ue007") // Enter
	b.waitFor(t, "the focus on the content, the list and its link kept", `return [document.activeElement.id, location.hash,
		document.getElementById('view-streams').hidden, document.querySelectorAll('#streams-table tbody tr').length, document.getElementById('error').textContent]`,
		`["main","#/streams",false,1,""]`)
}

// TestPageKeepsTheFocusMovedWhileAViewLoads: following a link to a view
// moves the focus to the content, for a keyboard and a screen reader to
// start there. It moved it once the view's first reads were answered: a
// user who had moved on meanwhile (a slow server, a read tried again for
// up to 30 s), tabbing to the navigation or into the page, had the focus
// taken away from where they were, back to the content's start. The
// focus now moves as the view is shown, before its reads. Here the
// stream's read is held, the focus is seen on the content, the user
// moves it to the navigation, and it stays there once the read is
// answered.
func TestPageKeepsTheFocusMovedWhileAViewLoads(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.beforePage(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => {
			if (!window.hold || String(u) !== '/streams/`+id+`') return fetch0(u, o);
			return new Promise((r) => { window.release = () => r(fetch0(u, o)); });
		};`)
	b.navigate(t, s.URL+"/#/nothing")
	b.waitFor(t, "the totals", `return document.getElementById('stat-streams').textContent`, `"1"`)
	b.run(t, `window.hold = true; location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's read held, the focus on the content", `return [typeof window.release, document.activeElement.id]`, `["function","main"]`)
	b.run(t, `document.getElementById('nav-streams').focus(); window.release(); return null`)
	b.waitFor(t, "the stream's tail", statusJS, `"Live at version 1: caught up"`)
	if got := b.run(t, `return document.activeElement.id`); got != `"nav-streams"` {
		t.Errorf("the focus, moved to the navigation while the view loaded, is on %s once it has; want it left there (\"nav-streams\")", got)
	}
}

// TestPageKeepsTheFocusWhenTheOldestPageFindsNoMatch: "Load older events"
// of a filtered live log, used from the keyboard, whose last read found
// no event that matches hid itself, and the focus, on it, went to the
// document's start: the focus goes to the oldest event shown (its link).
func TestPageKeepsTheFocusWhenTheOldestPageFindsNoMatch(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 150, "OrderNoted")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.navigate(t, s.URL+"/#/?type=OrderPaid")
	b.waitFor(t, "the one match, older events offered", `return [`+positionsJS[len("return "):]+`, document.getElementById('log-older').hidden]`, "[[151],false]")
	b.run(t, `const b = document.getElementById('log-older'); b.focus(); b.click(); return null`)
	b.waitFor(t, "none older matching said", `return document.getElementById('log-said').textContent`, `"No older events match, back to position 1."`)
	b.waitFor(t, "the focus on the oldest event shown", `const a = document.activeElement;
		return [document.getElementById('log-older').hidden, a.tagName, a.closest('li')?.dataset.position]`, `[true,"A","151"]`)
}

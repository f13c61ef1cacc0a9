package tests

import (
	"strings"
	"testing"
)

// captionJS and firstStreamJS read the stream list's caption and its first
// row's stream id.
const (
	captionJS     = `return document.getElementById('streams-caption').textContent`
	firstStreamJS = `return document.querySelector('#streams-table tbody td').textContent`
)

// TestPageStreamListGoesBackAPageAndKeepsItsPageInTheLink: the stream list
// had "Next page" and "First page" but no way back one page, and the page
// shown was not in the link: a reload, or the link shared, showed the
// first page again. The page's cursor and number are in the fragment, and
// "Previous page" goes back one, after a reload too (the cursors walked
// are kept for the tab).
func TestPageStreamListGoesBackAPageAndKeepsItsPageInTheLink(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	for range 120 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	}
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the first page, with no page before it", `return [document.getElementById('streams-caption').textContent, document.getElementById('streams-previous').disabled]`,
		`["Streams, page 1",true]`)
	first := b.run(t, firstStreamJS)
	b.run(t, `document.getElementById('streams-next').click(); return null`)
	b.waitFor(t, "the second page", captionJS, `"Streams, page 2"`)
	second := b.run(t, firstStreamJS)
	b.waitFor(t, "the second page in the link", `return /^#\/streams\?after=[0-9a-f-]{36}&page=2$/.test(location.hash)`, "true")
	b.run(t, `document.getElementById('streams-next').click(); return null`)
	b.waitFor(t, "the third page, the last", `return [document.getElementById('streams-caption').textContent, document.querySelectorAll('#streams-table tbody tr').length]`,
		`["Streams, page 3",20]`)
	b.run(t, `document.getElementById('streams-previous').click(); return null`)
	b.waitFor(t, "the second page again", `return [document.getElementById('streams-caption').textContent, `+strings.TrimPrefix(firstStreamJS, "return ")+`]`,
		`["Streams, page 2",`+second+`]`)
	// A reload shows the page in the link, and can still go back.
	b.run(t, `location.reload(); return null`)
	b.waitFor(t, "the second page after a reload", `return [document.getElementById('streams-caption').textContent, `+strings.TrimPrefix(firstStreamJS, "return ")+`, document.getElementById('streams-previous').disabled]`,
		`["Streams, page 2",`+second+`,false]`)
	b.run(t, `document.getElementById('streams-previous').click(); return null`)
	b.waitFor(t, "the first page again", `return [document.getElementById('streams-caption').textContent, `+strings.TrimPrefix(firstStreamJS, "return ")+`, location.hash]`,
		`["Streams, page 1",`+first+`,"#/streams"]`)
	// The browser's back button goes where "Previous page" went from.
	b.run(t, `history.back(); return null`)
	b.waitFor(t, "the second page, by the back button", `return [document.getElementById('streams-caption').textContent, `+strings.TrimPrefix(firstStreamJS, "return ")+`]`,
		`["Streams, page 2",`+second+`]`)
	// A cursor that is no stream id is said, not sent.
	b.navigate(t, s.URL+"/#/streams?after=nope")
	b.waitFor(t, "the bad cursor said", `return document.getElementById('error').textContent.includes('is not a page of the stream list')`, "true")
}

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

// TestPageLiveLogLoadsOlderPositions: the live log showed the last 100
// positions and what came since, and nothing older: nothing in the page
// reached further back in the log. "Load older events" reads the
// positions before those shown, a page at a time, while the live tail
// goes on; with a filter, it goes back until it finds an event that
// matches (or has read 1,000 positions, or the log's start).
func TestPageLiveLogLoadsOlderPositions(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "invoice", Events: events(1, "InvoiceNoted")})
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(249, "OrderNoted")})
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log", `return document.getElementById('log-status').textContent`, `"Live at position 250: caught up"`)
	span := `const p = ` + strings.TrimPrefix(positionsJS, "return ") + `; return [p.length, p[0], p[p.length - 1], document.getElementById('log-older').hidden]`
	b.waitFor(t, "positions 250 down to 151, older ones to load", span, "[100,250,151,false]")
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "positions 250 down to 51", span, "[200,250,51,false]")
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "every position, none older", span, "[250,250,1,true]")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.waitFor(t, "the next event, live, above the older ones", span, "[251,251,1,true]")

	// Filtered: the last 100 positions hold no invoice; one click goes
	// back to the one at position 1.
	b.navigate(t, s.URL+"/#/?stream_type=invoice")
	b.waitFor(t, "the filtered live log, empty", `const p = `+strings.TrimPrefix(positionsJS, "return ")+`; return [document.getElementById('log-status').textContent, p.length, document.getElementById('log-older').hidden]`,
		`["Live at position 251: caught up",0,false]`)
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "the invoice at position 1", positionsJS, "[1]")
	b.waitFor(t, "no older to load", `return document.getElementById('log-older').hidden`, "true")
}

package tests

import "testing"

// placeJS returns what the page says of a link's place it cannot show,
// and the links it offers, as "text href", or "" where it says nothing.
const placeJS = `const p = document.getElementById('place');
	return p.hidden ? '' : [document.getElementById('place-said').textContent,
		...[...p.querySelectorAll('a')].filter((a) => !a.hidden).map((a) => a.textContent + ' ' + a.getAttribute('href'))]`

// TestPageSaysALinksFromPastTheEndAndOffersTheLatestAndTheStart: a link
// whose from= lies past the end of the log, or of a stream, or names a
// stream that does not exist (a database reset since, a link from another
// server) showed the latest events without a word, and the link kept its
// from= for good. The page says what the link asks and where the log or
// stream is, and offers the latest events and the start, the link's
// filters kept.
func TestPageSaysALinksFromPastTheEndAndOffersTheLatestAndTheStart(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 230, "OrderNoted")

	b.navigate(t, s.URL+"/#/?type=OrderNoted&from=500")
	b.waitFor(t, "the last 100 positions", logRowsJS, `[100,230,131,"#/?type=OrderNoted&from=500"]`)
	b.waitFor(t, "the place said, the latest and the start offered", placeJS,
		`["The link asks for the log from position 500, but the log ends at position 230: its database may have been reset, or the link is from another server. Its latest events are shown.",`+
			`"Show the latest events #/?type=OrderNoted","Show the log from its start #/?type=OrderNoted&from=1"]`)
	// A page loaded by a click puts its own place in the link: what was
	// said of the link's goes.
	b.click(t, "#log-older")
	b.waitFor(t, "the page before, in the link", logRowsJS, `[200,230,31,"#/?type=OrderNoted&from=31"]`)
	b.waitFor(t, "nothing more said of the link's place", placeJS, `""`)
	b.navigate(t, s.URL+"/#/?type=OrderNoted&from=500")
	b.waitFor(t, "the place said again", `return document.getElementById('place').hidden`, "false")
	b.click(t, "a#place-start")
	b.waitFor(t, "the log from its start, filtered", logRowsJS, `[230,230,1,"#/?type=OrderNoted&from=1"]`)
	b.waitFor(t, "nothing more said", placeJS, `""`)
	b.navigate(t, s.URL+"/#/?type=OrderNoted&from=231")
	b.waitFor(t, "the place said again", `return document.getElementById('place').hidden`, "false")
	b.click(t, "a#place-latest")
	b.waitFor(t, "the latest events, filtered", logRowsJS, `[100,230,131,"#/?type=OrderNoted"]`)
	b.waitFor(t, "nothing more said", placeJS, `""`)

	b.navigate(t, s.URL+"/#/streams/"+id+"?from=500")
	b.waitFor(t, "the stream's latest 50", streamRowsJS, `[50,230,181,"?from=500"]`)
	b.waitFor(t, "the place said, the latest and the start offered", placeJS,
		`["The link asks for this stream's events from version 500, but the stream is at version 230: its database may have been reset, or the link is from another server. Its latest events are shown.",`+
			`"Show the latest events #/streams/`+id+`","Show the stream from its start #/streams/`+id+`?from=1"]`)
	b.click(t, "#stream-earlier")
	b.waitFor(t, "the page before, in the link", streamRowsJS, `[100,230,131,"?from=131"]`)
	b.waitFor(t, "nothing more said of the link's place", placeJS, `""`)
	b.navigate(t, s.URL+"/#/streams/"+id+"?from=500")
	b.waitFor(t, "the place said again", `return document.getElementById('place').hidden`, "false")
	b.click(t, "a#place-start")
	b.waitFor(t, "the stream from its start", streamRowsJS, `[230,230,1,"?from=1"]`)
	b.waitFor(t, "nothing more said", placeJS, `""`)

	gone := newID()
	b.navigate(t, s.URL+"/#/streams/"+gone+"?from=5")
	b.waitFor(t, "the place said, the stream and the live log offered", placeJS,
		`["The link asks for this stream's events from version 5, but the stream does not exist: it was never written, its database was reset, or the link is from another server.",`+
			`"Follow the stream, live #/streams/`+gone+`","Show the live log #/"]`)
	b.click(t, "a#place-latest")
	b.waitFor(t, "the stream, followed, without from=", `return location.hash`, `"#/streams/`+gone+`"`)
	b.waitFor(t, "nothing more said", placeJS, `""`)
}

// holdOlderReadsJS, run before the page's own script, holds the page's
// reads of the log's positions, and of a stream's versions, below
// window.below while window.hold() is in force, until window.release();
// window.held counts the reads held.
const holdOlderReadsJS = `const fetch0 = window.fetch;
	window.held = 0;
	let gate = null;
	window.hold = () => { gate = new Promise((r) => { window.release = () => { gate = null; r(); }; }); };
	window.fetch = (u, o) => {
		const m = /^\/(?:events\?after=|streams\/[^/]+\/events\?direction=backward&from=)(\d+)&/.exec(String(u));
		if (!gate || !m || Number(m[1]) >= window.below) return fetch0(u, o);
		window.held++;
		return gate.then(() => fetch0(u, o));
	};`

// TestPageSaysItsButtonIsBusyWhileALinksPagesLoad: after a reload, or a
// link shared, the view loads the pages of older events its from= names,
// one after another; meanwhile "Load older events" ("Load earlier
// events") was disabled under its usual name, and a click on it did
// nothing, without a word. It stays disabled until the link's pages are
// all in, says what it is waiting for, and the live region says it too;
// then it is the usual button again, and the click made meanwhile has
// loaded nothing the link did not ask for.
func TestPageSaysItsButtonIsBusyWhileALinksPagesLoad(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 530, "OrderNoted")
	b.beforePage(t, holdOlderReadsJS)
	const buttonJS = `const o = document.getElementById(arguments[0]); return [o.hidden, o.disabled, o.textContent]`

	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the last 100 positions", logRowsJS, `[100,530,431,"#/"]`)
	b.run(t, `window.below = 430; window.hold(); return null`)
	b.navigate(t, s.URL+"/#/?from=131")
	b.waitFor(t, "a page of the link's held", `return window.held > 0`, "true")
	b.waitFor(t, "the button busy, saying so", `return (function () { `+buttonJS+` }).apply(null, ['log-older'])`,
		`[false,true,"Loading older events back to position 131, as the link asks…"]`)
	b.waitFor(t, "the live region saying so", `return document.getElementById('log-said').textContent`,
		`"Loading older events back to position 131, as the link asks…"`)
	b.click(t, "#log-older")
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "the link's pages, and no more", logRowsJS, `[400,530,131,"#/?from=131"]`)
	b.waitFor(t, "the usual button again", `return (function () { `+buttonJS+` }).apply(null, ['log-older'])`,
		`[false,false,"Load older events (before position 131)"]`)

	b.run(t, `window.below = 480; window.held = 0; window.hold(); return null`)
	b.navigate(t, s.URL+"/#/streams/"+id+"?from=331")
	b.waitFor(t, "a page of the link's held", `return window.held > 0`, "true")
	b.waitFor(t, "the button busy, saying so", `return (function () { `+buttonJS+` }).apply(null, ['stream-earlier'])`,
		`[false,true,"Loading earlier events back to version 331, as the link asks…"]`)
	b.waitFor(t, "the live region saying so", `return document.getElementById('stream-said').textContent`,
		`"Loading earlier events back to version 331, as the link asks…"`)
	b.click(t, "#stream-earlier")
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "the link's pages, and no more", streamRowsJS, `[200,530,331,"?from=331"]`)
	b.waitFor(t, "the usual button again", `return (function () { `+buttonJS+` }).apply(null, ['stream-earlier'])`,
		`[false,false,"Load earlier events"]`)
}

// TestPageStreamListTakesAClickMadeWhileItsPageLoads: the stream list,
// reloaded on a later page, reads it again; "First page", always enabled,
// clicked while that read was on its way (a slow network, a busy server)
// did nothing, without a word, and the later page was shown. The click is
// made once the page on its way is in: the first page is shown, and the
// link names it.
func TestPageStreamListTakesAClickMadeWhileItsPageLoads(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	for range 60 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	}
	// With sessionStorage's holdList set, the list's reads of a later page
	// wait for window.release().
	b.beforePage(t, `const fetch0 = window.fetch;
		window.held = 0;
		const gate = new Promise((r) => { window.release = r; });
		window.fetch = (u, o) => sessionStorage.getItem('holdList') && /^\/streams\?(stream_type=[^&]*&)?after=/.test(String(u))
			? (window.held++, gate.then(() => fetch0(u, o))) : fetch0(u, o);`)
	const shownJS = `return [document.getElementById('streams-caption').textContent, document.querySelector('#streams-table tbody td')?.textContent, location.hash.replace(/after=[^&]*/, 'after=…')]`
	b.openStreamList(t, s, 50)
	first := b.run(t, `return document.querySelector('#streams-table tbody td').textContent`)
	b.run(t, `document.getElementById('streams-next').click(); return null`)
	b.waitFor(t, "the second page", captionJS, `"Streams, page 2"`)
	b.run(t, `sessionStorage.setItem('holdList', '1'); return null`)
	b.reload(t)
	b.waitFor(t, "the second page's read on its way", `return [window.held, document.getElementById('streams-caption').textContent]`, `[1,"Loading…"]`)
	b.click(t, "#streams-first")
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "the first page, as clicked, in the link", shownJS, `["Streams, page 1",`+first+`,"#/streams"]`)
}

// TestPageSaysAStreamListLinkPastItsLastStream: a link to a page of the
// stream list whose cursor lies past the last stream (its database reset
// since, a link from another server) showed an empty page, "No streams
// past this page's start", and nothing to say why or where to go. The
// page says so, and offers the first page, the link's type kept.
func TestPageSaysAStreamListLinkPastItsLastStream(t *testing.T) {
	t.Parallel()
	s, b, _ := startPageWithAStream(t, "order", 1, "OrderNoted")
	b.navigate(t, s.URL+"/#/streams?stream_type=order&after=ffffffff-ffff-ffff-ffff-ffffffffffff&page=3")
	b.waitFor(t, "the empty page", captionJS, `"No streams of type order past this page's start"`)
	b.waitFor(t, "the place said, the first page offered", placeJS,
		`["The link asks for the streams after ffffffff-ffff-ffff-ffff-ffffffffffff, but there are none past it: its database may have been reset, or the link is from another server.",`+
			`"Show the first page #/streams?stream_type=order"]`)
	b.click(t, "a#place-latest")
	b.waitFor(t, "the first page, its type kept", `return [document.querySelectorAll('#streams-table tbody tr').length, location.hash]`, `[1,"#/streams?stream_type=order"]`)
	b.waitFor(t, "nothing more said", placeJS, `""`)
}

// TestPageSaysALinksFromIntoAnEmptyLog: a link's from= on a log that has
// no event (a database reset since) is said, and the live log offered,
// not its start, which is the same place.
func TestPageSaysALinksFromIntoAnEmptyLog(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	b.navigate(t, s.URL+"/#/?stream_type=order&from=5")
	b.waitFor(t, "the place said, the live log offered", placeJS,
		`["The link asks for the log from position 5, but the log is empty: its database may have been reset, or the link is from another server.",`+
			`"Show the latest events #/?stream_type=order"]`)
}

// TestPageTakesBackAnEmptyLogsPlaceOnceItsFirstEventComes: a link's from=
// on an empty log is said; the log's first event, live, takes that back,
// and the link's from= with it, as a stream's first event does: the
// notice stayed above the events, and the link kept from=5 for good. The
// notice is of the log, not of the filters: an event they do not match
// takes it back too.
func TestPageTakesBackAnEmptyLogsPlaceOnceItsFirstEventComes(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	b.navigate(t, s.URL+"/#/?stream_type=order&from=5")
	b.waitFor(t, "the empty log said", `return document.getElementById('place').hidden`, "false")
	b.waitFor(t, "the log live", `return document.getElementById('log-status').className.includes('live')`, "true")
	shownJS := `return [` + positionsJS[len("return "):] + `, document.getElementById('place').hidden, location.hash]`
	s.mustAppend(t, newID(), appendBody{StreamType: "invoice", Events: events(1, "InvoiceNoted")})
	b.waitFor(t, "the log's first event, not shown, and the empty log taken back, from= with it", shownJS, `[[],true,"#/?stream_type=order"]`)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	b.waitFor(t, "the first event that matches", shownJS, `[[2],true,"#/?stream_type=order"]`)
}

// TestPageTakesBackALinksFromPastTheEndOnceTheLogReachesIt: a link's from=
// past the end of the log, or of a stream, is said ("the log ends at
// position 3"); live events that reach that place left it said, false by
// then, and the link kept its from=. The event at or past it, shown live
// or read as a paused view resumes, takes that back, and the link's from=
// with it.
func TestPageTakesBackALinksFromPastTheEndOnceTheLogReachesIt(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 3, "OrderNoted")
	placeHashJS := `return [document.getElementById('place').hidden, location.hash]`
	b.navigate(t, s.URL+"/#/?from=5")
	b.waitFor(t, "the log's end said", placeHashJS, `[false,"#/?from=5"]`)
	b.waitFor(t, "the log live", `return document.getElementById('log-status').className.includes('live')`, "true")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "position 4 shown", positionsJS, "[4,3,2,1]")
	if got := b.run(t, placeHashJS); got != `[false,"#/?from=5"]` {
		t.Errorf("the log at position 4, short of the link's 5: the place said and the link %s; want [false,\"#/?from=5\"]", got)
	}
	// Paused meanwhile, the view shows position 5 as it resumes, read with
	// what came while it was paused: that takes it back too.
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log paused", `return document.getElementById('log-status').textContent`, `"Paused"`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the totals at position 5", `return document.getElementById('stat-position').textContent`, `"5"`)
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "position 5, and what was said of it taken back, from= with it", `return [`+positionsJS[len("return "):]+`[0], document.getElementById('place').hidden, location.hash]`, `[5,true,"#/"]`)

	b.navigate(t, s.URL+"/#/streams/"+id+"?from=7")
	b.waitFor(t, "the stream's end said", placeHashJS, `[false,"#/streams/`+id+`?from=7"]`)
	b.waitFor(t, "the tail live", `return document.getElementById('stream-status').className.includes('live')`, "true")
	s.mustAppend(t, id, appendBody{Events: events(2, "OrderNoted")})
	b.waitFor(t, "version 7, and what was said of it taken back, from= with it", `return [`+versionsJS[len("return "):]+`[0], document.getElementById('place').hidden, location.hash]`, `[7,true,"#/streams/`+id+`"]`)
}

// TestPageTakesBackAStreamsAbsenceOnceItsFirstEventComes: a link's from=
// on a stream that does not exist is said; the stream's first event,
// live, takes that back, as it takes back "This stream does not exist
// yet", and the link's from= with it.
func TestPageTakesBackAStreamsAbsenceOnceItsFirstEventComes(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	b.navigate(t, s.URL+"/#/streams/"+id+"?from=5")
	b.waitFor(t, "the absence said", `return document.getElementById('place').hidden`, "false")
	b.waitFor(t, "the tail live", `return document.getElementById('stream-status').className.includes('live')`, "true")
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	// The link's from= goes with what was said of it: it kept from=5, and a
	// reload said it again of the stream at version 1.
	b.waitFor(t, "the first event, and the absence taken back, from= with it", `return [`+versionsJS[len("return "):]+`, document.getElementById('place').hidden, location.hash]`, `[[1],true,"#/streams/`+id+`"]`)
}

// TestPageKeepsALinksStaleFromWhileItSaysIt: a link whose from= lies past
// the end of the log, or of a stream, is said, quoting that from=, and the
// link is left for the user to choose; live events that pushed the oldest
// rows out then put the place of the rows shown in the link, silently,
// while what was said still quoted the link's from=. The link keeps it
// while that is said.
func TestPageKeepsALinksStaleFromWhileItSaysIt(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 130, "OrderNoted")
	const saidJS = `return [document.getElementById('place').hidden, document.getElementById('place-said').textContent.slice(0, 50)]`
	b.navigate(t, s.URL+"/#/?from=5000")
	b.waitFor(t, "the last 100 positions", logRowsJS, `[100,130,31,"#/?from=5000"]`)
	b.waitFor(t, "the place said", saidJS, `[false,"The link asks for the log from position 5000, but "]`)
	s.mustAppend(t, id, appendBody{Events: events(401, "OrderShipped")})
	b.waitFor(t, "the oldest rows pushed out, the link's from= kept", logRowsJS, `[500,531,32,"#/?from=5000"]`)
	b.waitFor(t, "the place still said", saidJS, `[false,"The link asks for the log from position 5000, but "]`)

	b.navigate(t, s.URL+"/#/streams/"+id+"?from=5000")
	b.waitFor(t, "the stream's latest 50", streamRowsJS, `[50,531,482,"?from=5000"]`)
	b.waitFor(t, "the place said", saidJS, `[false,"The link asks for this stream's events from versio"]`)
	s.mustAppend(t, id, appendBody{Events: events(451, "OrderShipped")})
	b.waitFor(t, "the oldest rows pushed out, the link's from= kept", streamRowsJS, `[500,982,483,"?from=5000"]`)
	b.waitFor(t, "the place still said", saidJS, `[false,"The link asks for this stream's events from versio"]`)
}

package tests

import "testing"

// TestPageShowAllReadGivesUpWithTheView: "Show all" on a large event whose
// whole text the page no longer keeps reads the event again, up to a
// megabyte. That read, alone of a view's reads, was not given the view's
// leave: left meanwhile, the view went on reading it, for a text no one
// would see, and kept it, and said in the view that replaced it that it
// had failed once its 10 s without an answer were up. Here that read is
// held until it is given up (the page's 10 s bound on it set aside: only
// leaving the view gives it up); the view is left, and the read is seen
// given up, without a word in the view that replaced it.
func TestPageShowAllReadGivesUpWithTheView(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	appendTwentyHalfMiBEvents(t, s, id, "blob")
	b.beforePage(t, `const set = window.setTimeout;
		window.setTimeout = (f, d, ...a) => (d === 10000 ? 0 : set(f, d, ...a));
		const fetch0 = window.fetch;
		window.fetch = (u, o) => {
			if (!/\/events\/\d+$/.test(String(u))) return fetch0(u, o);
			window.held = o.signal;
			return new Promise((_, fail) => o.signal.addEventListener('abort', () => fail(new DOMException('given up', 'AbortError'))));
		};`)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail", `return document.getElementById('stream-status').className.includes('live')`, "true")
	// Each "Show all" in turn, until one reads its event again.
	b.waitFor(t, "a read of an event's whole text", `for (const m of document.querySelectorAll('#stream-events button.more')) {
			if (window.held) break;
			if (m.getAttribute('aria-expanded') === 'false') m.click();
		}
		return !!window.held`, "true")
	b.run(t, `location.hash = '#/nowhere'; return null`)
	b.waitFor(t, "the read given up with the view", `return [window.held.aborted, document.getElementById('error').textContent.startsWith('This page has no view')]`, "[true,true]")
}

// TestPageKeepsTheNewestEventsTextsForShowAll: the page keeps the whole
// text of the latest large events it shows, about 2 MiB of them, for
// "Show all", and reads the others again. A live view's rows, built
// newest first since they wait for the page's code to stop, kept the
// oldest of what it showed at once and dropped the newest: "Show all" on
// the stream's latest event read it again. Here twenty events of 512 KiB;
// the latest one's "Show all" reads nothing.
func TestPageKeepsTheNewestEventsTextsForShowAll(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	appendTwentyHalfMiBEvents(t, s, id, "blob")
	b.beforePage(t, countEventRereads)
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail", `return document.getElementById('stream-status').className.includes('live')`, "true")
	li := `document.querySelector('#stream-events li[data-version="20"]')`
	showAllReadsNothing(t, b, li, "the stream's latest event")
}

// TestPageKeepsTheLinkedEventsTextForShowAll: an event's link
// (#/streams/{id}?version=N) shows that event first, marked, and those
// before it. Its rows were built newest first, the linked event's first,
// and the page keeps the whole text of the latest rows built, about
// 2 MiB: the events before it, built after it, pushed the linked event's
// text out, and its "Show all", the one a user came for, read it again.
// Here twenty events of 512 KiB, and a link to the last: its "Show all"
// reads nothing.
func TestPageKeepsTheLinkedEventsTextForShowAll(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	appendTwentyHalfMiBEvents(t, s, id, "blob")
	b.beforePage(t, countEventRereads)
	b.navigate(t, s.URL+"/#/streams/"+id+"?version=20")
	b.waitFor(t, "the linked event's window", statusJS, `"Shown from the link to version 20; not following the stream."`)
	li := `document.querySelector('#stream-events li.target')`
	if got := b.run(t, `return [...document.querySelectorAll('#stream-events li')].map((li) => Number(li.dataset.version))`); got != "[20,19,18,17,16]" {
		t.Fatalf("the window's rows: %s; want [20,19,18,17,16], newest first", got)
	}
	showAllReadsNothing(t, b, li, "the linked event")
}

// countEventRereads is a script for beforePage that counts, in
// window.reread, the page's reads of one event again (/events/{n}).
const countEventRereads = `const fetch0 = window.fetch;
	window.reread = 0;
	window.fetch = (u, o) => {
		if (/\/events\/\d+$/.test(String(u))) window.reread++;
		return fetch0(u, o);
	};`

// showAllReadsNothing clicks "Show all" on li (a JavaScript expression for
// an event's row, one of appendTwentyHalfMiBEvents'), waits for its whole
// data, and fails t if the page read any event again for it
// (countEventRereads given to beforePage): what names the event.
func showAllReadsNothing(t *testing.T, b *browser, li, what string) {
	t.Helper()
	b.run(t, li+`.querySelector('button.more').click(); return null`)
	b.waitFor(t, what+"'s whole data", `const b = `+li+`.querySelector('button.more');
		return [b.getAttribute('aria-expanded'), `+li+`.querySelector('pre').textContent.length]`, `["true",524304]`)
	if got := b.run(t, `return window.reread`); got != "0" {
		t.Errorf("Show all on %s read events again %s times; want 0 (its text kept)", what, got)
	}
}

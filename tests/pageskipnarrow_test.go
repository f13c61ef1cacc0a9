package tests

import (
	"strconv"
	"testing"
)

// skipClearJS returns, for the skip control of id focused, whether it
// covers none of what its view shows after its heading (selector): at a
// phone's width the focused control was laid over the filters.
const skipClearJS = `const [id, selector] = arguments;
	const skip = document.getElementById(id);
	skip.focus();
	const s = skip.getBoundingClientRect();
	const over = [...document.querySelectorAll(selector)].filter((e) => {
		const r = e.getBoundingClientRect();
		return r.width > 0 && s.width > 0 && r.left < s.right && s.left < r.right && r.top < s.bottom && s.top < r.bottom;
	}).map((e) => e.id || e.name || e.textContent.trim());
	return [document.activeElement === skip, s.width > 20, over]`

// TestPageSkipControlsCoverNothingAtAPhonesWidth: a view's skip control
// ("Skip to older events", "Skip to earlier events", "Skip to the page
// buttons"), focused, was laid over the view's first controls, at 375 px
// over the filters' fields, which it hid while a keyboard user was on it.
// Focused, it is laid over the page's header, and covers nothing of the view.
func TestPageSkipControlsCoverNothingAtAPhonesWidth(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 130, "OrderNoted")
	b.resize(t, 375, 800)
	clear := func(skip, selector string) {
		t.Helper()
		got := b.run(t, `return (function () { `+skipClearJS+` }).apply(null, [`+strconv.Quote(skip)+`, `+strconv.Quote(selector)+`])`)
		if got != `[true,true,[]]` {
			t.Errorf("%s focused, at 375 px: [focused, shown, what it covers] = %s; want [true,true,[]]", skip, got)
		}
	}
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log, older on demand", `return [document.querySelectorAll('#log-events li').length, document.getElementById('log-older').hidden]`, "[100,false]")
	clear("log-skip-older", "#log-filter label, #log-filter input, #log-filter button, #log-pause, #log-status")
	b.openStreamList(t, s, 1)
	clear("streams-skip-pager", "#streams-filter label, #streams-filter input, #streams-filter button, #streams-caption")
	b.openLiveStream(t, s, id, 130, "the live tail")
	b.waitFor(t, "earlier events on demand", `return document.getElementById('stream-earlier').hidden`, "false")
	clear("stream-skip-earlier", "#stream-info dt, #stream-info dd, #stream-pause, #stream-status")
}

// TestPageSkipToALoadingButtonMovesTheFocusToItsPlace: the skip control
// of "Load older events" (the live log's) and "Load earlier events" (a
// stream's), used while the button's page loads (the button disabled),
// moved the focus nowhere: a disabled button takes none, and the user was
// left at the heading. It now goes to the last event shown, just before
// the button, where the next Tab reaches the button once its page is in.
func TestPageSkipToALoadingButtonMovesTheFocusToItsPlace(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 130, "OrderNoted")
	// While window.holdReads is set, the page's reads of events wait.
	b.beforePage(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => window.holdReads && /^\/(events|streams\/[^?]*\/events)\?/.test(String(u))
			? new Promise((r) => { const t = setInterval(() => { if (!window.holdReads) { clearInterval(t); r(); } }, 20); }).then(() => fetch0(u, o))
			: fetch0(u, o);`)
	const at = `const a = document.activeElement; return [a.tagName, a.closest('li')?.dataset.position ?? a.closest('li')?.dataset.version ?? a.id]`
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log, older on demand", `return [document.querySelectorAll('#log-events li').length, document.getElementById('log-older').hidden]`, "[100,false]")
	b.run(t, `window.holdReads = true; document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "Load older events loading", `return document.getElementById('log-older').disabled`, "true")
	b.run(t, `const s = document.getElementById('log-skip-older'); s.focus(); s.click(); return null`)
	b.waitFor(t, "the focus on the last event shown", at, `["A","31"]`)
	b.run(t, `window.holdReads = false; return null`)
	b.waitFor(t, "the older events", `return document.querySelectorAll('#log-events li').length`, "130")

	b.openLiveStream(t, s, id, 130, "the live tail")
	b.waitFor(t, "earlier events on demand", `return document.getElementById('stream-earlier').hidden`, "false")
	b.run(t, `window.holdReads = true; document.getElementById('stream-earlier').click(); return null`)
	b.waitFor(t, "Load earlier events loading", `return document.getElementById('stream-earlier').disabled`, "true")
	b.run(t, `const s = document.getElementById('stream-skip-earlier'); s.focus(); s.click(); return null`)
	b.waitFor(t, "the focus on the last event shown", at, `["A","81"]`)
	b.run(t, `window.holdReads = false; return null`)
	b.waitFor(t, "the earlier events", `return document.querySelectorAll('#stream-events li').length`, "100")
}

// skipStillJS returns, for the skip control of id, whether focusing it
// leaves what its view shows (selector) where it was, in the document,
// and whether the focused control is then in the window, shown.
const skipStillJS = `const [id, selector] = arguments;
	const skip = document.getElementById(id);
	const places = () => JSON.stringify([...document.querySelectorAll(selector)].map((e) => {
		const r = e.getBoundingClientRect();
		return [e.id || e.tagName, Math.round(r.left + scrollX), Math.round(r.top + scrollY), Math.round(r.width)];
	}));
	const before = places();
	skip.focus();
	const after = places();
	const s = skip.getBoundingClientRect();
	const seen = document.activeElement === skip && s.width > 20 && s.top >= 0 && s.bottom <= innerHeight;
	skip.blur();
	return [seen, before === after ? 'unmoved' : before + ' became ' + after]`

// TestPageSkipControlsMoveNothingWhenFocused: a view's skip control,
// focused, took its own line after the view's heading, and pushed all
// the view showed down by its height (and back up as the focus left): a
// keyboard user's Tab moved the page under them. Focused, it is laid over
// the page's header, as "Skip to content" is, and moves nothing.
func TestPageSkipControlsMoveNothingWhenFocused(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 130, "OrderNoted")
	still := func(width int, skip, selector string) {
		t.Helper()
		got := b.run(t, `return (function () { `+skipStillJS+` }).apply(null, [`+strconv.Quote(skip)+`, `+strconv.Quote(selector)+`])`)
		if got != `[true,"unmoved"]` {
			t.Errorf("%s focused, at %d px: [shown, what moved] = %s; want [true,\"unmoved\"]", skip, width, got)
		}
	}
	for _, width := range []int{375, 1100} {
		b.resize(t, width, 800)
		b.navigate(t, s.URL+"/#/")
		b.waitFor(t, "the live log, older on demand", `return [document.querySelectorAll('#log-events li').length, document.getElementById('log-older').hidden]`, "[100,false]")
		still(width, "log-skip-older", "#log-title, #log-filter, #log-status, #log-events")
		b.openStreamList(t, s, 1)
		still(width, "streams-skip-pager", "#streams-title, #streams-filter, #streams-table")
		b.openLiveStream(t, s, id, 130, "the live tail")
		b.waitFor(t, "earlier events on demand", `return document.getElementById('stream-earlier').hidden`, "false")
		still(width, "stream-skip-earlier", "#stream-title, #stream-info, #stream-status, #stream-events")
	}
}

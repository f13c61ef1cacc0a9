package tests

import "testing"

// TestPageReachesTheStreamListsPagesInAFewKeys: the stream list's "Next
// page" came after its 50 rows, each a link: a keyboard user pressed Tab
// fifty-odd times to turn a page, as for the events' "Load older events".
// Just after its heading the list has a "Skip to the page buttons"
// control, shown only while focused, that moves the focus to the next
// page's button (else the previous page's, else the first page's).
func TestPageReachesTheStreamListsPagesInAFewKeys(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	for range 60 {
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	}
	const tab, enter = "\ue004", "\ue007"
	const focused = `return document.activeElement.id`
	b.openStreamList(t, s, 50)
	b.waitFor(t, "the skip control out of a mouse user's sight", `const r = document.getElementById('streams-skip-pager').getBoundingClientRect(); return r.right <= 0 || r.width <= 1`, "true")
	b.click(t, "#streams-title")
	for i := 0; i < 3 && b.run(t, focused) != `"streams-skip-pager"`; i++ {
		b.pressKey(t, tab)
	}
	if got := b.run(t, focused); got != `"streams-skip-pager"` {
		t.Fatalf("the focus after up to three Tabs from the list's heading: %s; want streams-skip-pager", got)
	}
	b.pressKey(t, enter)
	b.waitFor(t, "the focus on Next page", focused, `"streams-next"`)
	b.pressKey(t, enter)
	b.waitFor(t, "the second page", `return document.querySelectorAll('#streams-table tbody tr').length`, "10")
	b.click(t, "#streams-title")
	for i := 0; i < 3 && b.run(t, focused) != `"streams-skip-pager"`; i++ {
		b.pressKey(t, tab)
	}
	b.pressKey(t, enter)
	b.waitFor(t, "the focus on Previous page, there being no next one", focused, `"streams-previous"`)
}

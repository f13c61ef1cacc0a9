package tests

import (
	"net/http"
	"testing"
)

// TestPageStreamListFitsAPhone: at a phone's width (375 px) the stream
// list showed its id column and a sliver of Type; Version and Updated were
// past the screen's edge, behind a sideways scroll of the table. A narrow
// window now shows the id (wrapped, whole), the type and the version
// within it, and nothing of the page is wider than the window; a wide one
// shows the whole table as before, each id on one line. The pager's
// buttons each keep their words on one line there too.
func TestPageStreamListFitsAPhone(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	for _, typ := range []string{"order", "customer-subscription-renewal", "invoice"} {
		s.mustAppend(t, newID(), `{"stream_type":"`+typ+`","events":[{"type":"Noted","data":{}}]}`)
	}
	b.resize(t, 375, 800)
	b.openStreamList(t, s, 3)
	// Every column shown is within the window, nothing scrolls sideways,
	// the page or the table, and each id is there whole.
	const fits = `const w = innerWidth, shown = [...document.querySelectorAll('#streams-table th')].filter(th => getComputedStyle(th).display !== 'none');
		const scroll = document.querySelector('#view-streams .scroll');
		return {
			shown: shown.map(th => th.textContent),
			within: shown.every(th => th.getBoundingClientRect().right <= w),
			page: document.scrollingElement.scrollWidth <= w,
			table: scroll.scrollWidth <= scroll.clientWidth,
			whole: [...document.querySelectorAll('#streams-table tbody td:first-child a')].every(a => /^[0-9a-f-]{36}$/.test(a.textContent) && a.getBoundingClientRect().right <= w),
		}`
	b.waitFor(t, "the list within a phone's width", fits, `{"page":true,"shown":["Stream","Type","Version"],"table":true,"whole":true,"within":true}`)
	// Each of the pager's three buttons keeps its words on one line (each
	// wrapped onto two inside its button, the three held in one row), and
	// within the window: the lines of a button's text, told by their tops.
	b.waitFor(t, "the pager's buttons each one line high at a phone's width", `return [...document.querySelectorAll('#view-streams .pager button')].map(button => {
			const range = document.createRange();
			range.selectNodeContents(button);
			const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
			return button.textContent + ': ' + lines + (button.getBoundingClientRect().right <= innerWidth ? ' within' : ' past the edge');
		}).join(', ')`, `"First page: 1 within, Previous page: 1 within, Next page: 1 within"`)

	b.resize(t, 1100, 1000)
	b.waitFor(t, "the whole table at 1,100 px, each id on one line", fits+`.shown.join() + ' ' + [...document.querySelectorAll('#streams-table tbody td:first-child a')].every(a => a.getClientRects().length === 1)`,
		`"Stream,Type,Version,Created,Updated true"`)
}

// resize sets the browser window's size, in CSS pixels.
func (b *browser) resize(t *testing.T, width, height int) {
	t.Helper()
	if err := b.call(http.MethodPost, b.session+"/window/rect", map[string]int{"width": width, "height": height}, nil); err != nil {
		t.Fatalf("resize the window to %d×%d: %v", width, height, err)
	}
}

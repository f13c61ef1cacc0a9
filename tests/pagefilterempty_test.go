package tests

import "testing"

// TestPageFilteredLiveLogSaysWhenNothingMatches: a filtered live log whose
// last 100 positions hold no match showed an empty list under "Live at
// position N: caught up", nothing saying that the filter had matched
// nothing, or where it had looked: a mistyped filter read as a quiet log.
// It now says that no event after the position it read back to matches,
// and that older ones load on demand; the words go once an event shows.
func TestPageFilteredLiveLogSaysWhenNothingMatches(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(150, "OrderNoted")})
	b.navigate(t, s.URL+"/#/?type=OrderShipped")
	b.waitFor(t, "the filtered live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 150: caught up"`)
	empty := `const p = document.getElementById('log-empty'); return [p.hidden, p.textContent]`
	b.waitFor(t, "the words that nothing matches", empty,
		`[false,"No event after position 50 matches these filters. Load older events to look further back."]`)
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "the words once the log's start is read", empty, `[false,"No event in the log matches these filters."]`)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderShipped")})
	b.waitFor(t, "the event that matches, the words gone", `return [`+positionsJS[len("return "):]+`, document.getElementById('log-empty').hidden]`, "[[151],true]")
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "no such words unfiltered", `return [document.querySelectorAll('#log-events li').length, document.getElementById('log-empty').hidden]`, "[100,true]")
}

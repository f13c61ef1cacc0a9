package tests

import "testing"

// TestPageFilteredOlderEventsFarBackTakeOneClick: under a filtered live
// log, "Load older events" went back 1,000 positions a click at most, and
// an older match past those was that many clicks away: 52 clicks for one
// 52,000 positions back. A click that finds no match in its 1,000
// positions now finds the last match before them with filtered reads of
// one event (the API reads after a position, not before one: a search, a
// few dozen such reads for a million positions), and reads from there.
// Here the log's invoices are at positions 1 and 652, under 2,600 orders.
func TestPageFilteredOlderEventsFarBackTakeOneClick(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	s.mustAppend(t, newID(), appendBody{StreamType: "invoice", Events: events(1, "InvoiceNoted")})
	id := newID()
	for batch := range 4 {
		body := appendBody{Events: events(650, "OrderNoted")}
		if batch == 0 {
			body.StreamType = "order"
		}
		s.mustAppend(t, id, body)
		if batch == 0 {
			s.mustAppend(t, newID(), appendBody{StreamType: "invoice", Events: events(1, "InvoiceNoted")})
		}
	}
	b.navigate(t, s.URL+"/#/?stream_type=invoice")
	b.waitFor(t, "the filtered live log, empty", `return [document.getElementById('log-status').textContent, document.querySelectorAll('#log-events li').length]`,
		`["Live at position 2602: caught up",0]`)
	shown := `return [document.getElementById('log-older').disabled, ` + positionsJS[len("return "):] + `, document.getElementById('log-older').hidden]`
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "the invoice at position 652, in one click", shown, "[false,[652],false]")
	b.run(t, `document.getElementById('log-older').click(); return null`)
	b.waitFor(t, "the invoice at position 1, in one more", shown, "[false,[652,1],true]")
}

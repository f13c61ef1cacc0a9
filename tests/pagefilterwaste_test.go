package tests

import (
	"strconv"
	"strings"
	"testing"
)

// TestPageFilteredOlderEventsReadLittleMoreThanTheyShow: a filtered read
// of the log has no upper bound (the API takes after=, not before=), so
// "Load older events" under a filtered live log read each window of
// positions with a limit of the window's size, and the events that match
// past the window came back with it, to be dropped: with a filter that
// one event in ten matches, most of what a click read was thrown away,
// more the further back it went. Each window is now read with a limit of
// twice as many as have matched so far in as many positions, read on from
// its last event when the window holds more. Here 1,000 events, every
// tenth of type Rare: the clicks back to the log's start return at most
// three times the events they show, where they returned over six times
// as many.
func TestPageFilteredOlderEventsReadLittleMoreThanTheyShow(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	for batch := range 10 {
		evs := events(100, "Common")
		for i := range evs {
			if i%10 == 9 {
				evs[i].Type = "Rare"
			}
		}
		body := appendBody{Events: evs}
		if batch == 0 {
			body.StreamType = "order"
		}
		s.mustAppend(t, id, body)
	}
	b.navigate(t, s.URL+"/#/?type=Rare")
	b.waitFor(t, "the last 100 positions' ten rare events", positionsJS, "[1000,990,980,970,960,950,940,930,920,910]")
	// The events the filtered reads of /events return, from now on.
	b.run(t, `window.returned = 0;
		const fetch0 = window.fetch;
		window.fetch = async (u, o) => {
			const res = await fetch0(u, o);
			if (String(u).startsWith('/events?') && String(u).includes('type=Rare') && o?.headers?.Accept === 'application/json') {
				window.returned += (await res.clone().json()).events.length;
			}
			return res;
		};
		return null`)
	for i := 0; i < 20 && b.run(t, `return document.getElementById('log-older').hidden`) == "false"; i++ {
		b.run(t, `document.getElementById('log-older').click(); return null`)
		b.waitFor(t, "a page of older events", `return document.getElementById('log-older').disabled`, "false")
	}
	want := []string{}
	for p := 1000; p >= 10; p -= 10 {
		want = append(want, strconv.Itoa(p))
	}
	b.waitFor(t, "every rare event, once", positionsJS, "["+strings.Join(want, ",")+"]")
	got, _ := strconv.Atoi(b.run(t, `return window.returned`))
	t.Logf("the clicks' filtered reads returned %d events to show 90", got)
	if got > 3*90 {
		t.Fatalf("the clicks' filtered reads returned %d events to show 90; want at most %d", got, 3*90)
	}
}

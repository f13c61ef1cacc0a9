package tests

import "testing"

// TestPageReachesLoadOlderEventsInAFewKeys: "Load earlier events" (a
// stream's) and "Load older events" (the live log's) come after the
// events a view shows, up to 500 of them, each with a link or two: a
// keyboard user pressed Tab hundreds of times to reach them. Each view
// has a skip control just after its heading, shown only while focused,
// that moves the focus to its button, and is there only while the
// button is.
func TestPageReachesLoadOlderEventsInAFewKeys(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 130, "OrderNoted")
	const tab, enter = "\ue004", "\ue007"
	const focused = `const a = document.activeElement; return a.id`
	// skipFrom clicks the view's heading, as a person does before using
	// the keyboard, presses Tab until the focus is on skip (at most three
	// times), and checks that it is then shown in the window.
	skipFrom := func(heading, skip string) {
		t.Helper()
		b.click(t, heading)
		for i := 0; i < 3 && b.run(t, focused) != `"`+skip+`"`; i++ {
			b.pressKey(t, tab)
		}
		if got := b.run(t, focused); got != `"`+skip+`"` {
			t.Fatalf("the focus after up to three Tabs from %s: %s; want %s", heading, got, skip)
		}
		if got := b.run(t, `const r = document.activeElement.getBoundingClientRect(); return r.width > 20 && r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight`); got != "true" {
			t.Errorf("%s, focused, is not shown in the window", skip)
		}
	}

	b.openLiveStream(t, s, id, 130, "the live tail")
	b.waitFor(t, "the stream's latest 50 events, more on demand", `return [document.querySelectorAll('#stream-events li').length, document.getElementById('stream-earlier').hidden]`, "[50,false]")
	b.waitFor(t, "the skip control out of a mouse user's sight", `const r = document.getElementById('stream-skip-earlier').getBoundingClientRect(); return r.right <= 0 || r.width <= 1`, "true")
	skipFrom("#stream-title", "stream-skip-earlier")
	b.pressKey(t, enter)
	b.waitFor(t, "the focus on Load earlier events", focused, `"stream-earlier"`)
	b.pressKey(t, enter)
	b.waitFor(t, "the next 50 events", `return document.querySelectorAll('#stream-events li').length`, "100")
	b.pressKey(t, enter)
	b.waitFor(t, "all the events, and neither control left", `return [document.querySelectorAll('#stream-events li').length, document.getElementById('stream-earlier').hidden, document.getElementById('stream-skip-earlier').hidden]`, "[130,true,true]")

	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log's last 100 positions, older on demand", `return [document.querySelectorAll('#log-events li').length, document.getElementById('log-older').hidden]`, "[100,false]")
	b.waitFor(t, "the skip control out of a mouse user's sight", `const r = document.getElementById('log-skip-older').getBoundingClientRect(); return r.right <= 0 || r.width <= 1`, "true")
	skipFrom("#log-title", "log-skip-older")
	b.pressKey(t, enter)
	b.waitFor(t, "the focus on Load older events", focused, `"log-older"`)
	b.pressKey(t, enter)
	b.waitFor(t, "every event, and neither control left", `return [document.querySelectorAll('#log-events li').length, document.getElementById('log-older').hidden, document.getElementById('log-skip-older').hidden]`, "[130,true,true]")
}

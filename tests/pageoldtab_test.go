package tests

import "testing"

// TestPageTabOfTheOlderPageFollowsTheLogPassedOnInBatches: the tab that
// follows the log posts the events it passes on to the page's other tabs
// in batches ("events"); a tab still showing the page as it was before
// (which knows one event a message, "event", and the holder's "state")
// ignored them, and showed nothing new until the next state message,
// which came only when the connection's state changed. The holder now
// follows each batch with its state, which names the position the batch
// reached: such a tab reads up to it from the log. The second tab here
// is made to ignore batches, as the older page does.
func TestPageTabOfTheOlderPageFollowsTheLogPassedOnInBatches(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 1, "OrderPlaced")
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the first tab's live log", positionsJS, "[1]")
	b.newTab(t)
	// window.olderPage: the page's handler of the tabs' messages sees no
	// batch of events, as the older page's took none.
	b.beforePage(t, `const d = Object.getOwnPropertyDescriptor(BroadcastChannel.prototype, 'onmessage');
		Object.defineProperty(BroadcastChannel.prototype, 'onmessage', {
			configurable: true,
			get() { return d.get.call(this); },
			set(f) { d.set.call(this, f && function (m) { if (!(window.olderPage && m.data?.kind === 'events')) return f.call(this, m); }); },
		});`)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the second tab's live log", `return document.getElementById('log-status').textContent`, `"Live at position 1: caught up"`)
	b.run(t, `window.olderPage = true; return null`)
	s.mustAppend(t, id, appendBody{Events: events(3, "OrderNoted")})
	b.waitFor(t, "the events in the tab of the older page", positionsJS, "[4,3,2,1]")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
	b.waitFor(t, "the next event too", positionsJS, "[5,4,3,2,1]")
	b.waitFor(t, "it to say it is live", `return document.getElementById('log-status').textContent`, `"Live at position 5: caught up"`)
}

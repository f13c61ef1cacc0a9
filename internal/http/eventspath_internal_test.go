package http

import "testing"

// TestEventsPathMatchesOnlyTheTwoReadsOfEvents: the paths that serve a
// page or a subscription by Accept, matched before routing (the timeout's
// exemption, Vary: Accept), are /events and /streams/{id}/events, and no
// other.
func TestEventsPathMatchesOnlyTheTwoReadsOfEvents(t *testing.T) {
	for path, want := range map[string]bool{
		"/events": true, "/streams/x/events": true, "/streams/0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10/events": true,
		"/events/": false, "/streams/events": false, "/streams//events": false, "/streams/a/b/events": false,
		"/streams/x/events/1": false, "/streams/x": false, "/x/streams/y/events": false, "": false, "/": false,
	} {
		if got := eventsPath(path); got != want {
			t.Errorf("eventsPath(%q) = %v, want %v", path, got, want)
		}
	}
}

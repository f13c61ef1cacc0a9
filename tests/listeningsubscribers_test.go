package tests

import "testing"

// TestTheListeningLineGivesTheSubscriberLimitsInForce: the listening line
// gave the connection bounds in force, not the subscriptions' (with
// TRIBUTARY_MAX_SUBSCRIBERS=7, a client's share is 3, a default the
// operator could only work out). It gives both, as in force.
func TestTheListeningLineGivesTheSubscriberLimitsInForce(t *testing.T) {
	t.Parallel()
	s := startServer(t, "TRIBUTARY_MAX_SUBSCRIBERS=7")
	l := s.logLine(t, "listening")
	if l["max_subscribers"] != float64(7) || l["max_subscribers_per_client"] != float64(3) {
		t.Errorf("the listening line with TRIBUTARY_MAX_SUBSCRIBERS=7: max_subscribers %v, max_subscribers_per_client %v; want 7 and 3",
			l["max_subscribers"], l["max_subscribers_per_client"])
	}
}

package faultproxy

import (
	"net"
	"strconv"
	"testing"

	"github.com/tributary-dev/tributary/internal/freeport"
)

// TestAProxyListensOutsideTheEphemeralRange: Restore listens again on the
// address Start took, after a cut that lasts as long as the test wants (a
// minute in a Galera test, while the service dials it all along). A port
// from the ephemeral range (what listening on port 0 hands out) can be
// given meanwhile to any process that listens on port 0 or dials out, and
// Restore then fails; outside the range, only a process that asks for the
// port by number can take it.
func TestAProxyListensOutsideTheEphemeralRange(t *testing.T) {
	t.Parallel()
	p := Start(t, "127.0.0.1:1")
	_, port, _ := net.SplitHostPort(p.Addr())
	if n, _ := strconv.Atoi(port); !freeport.Given(n) {
		t.Errorf("the proxy listens on %s, not a port from freeport; want one outside the ephemeral range", p.Addr())
	}
	p.Cut()
	p.Restore(t) // fails the test if it cannot listen there again
}

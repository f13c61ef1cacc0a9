package tests

import "testing"

// TestComposePublishesOnAnIPv6AddressWithOrWithoutBrackets:
// TRIBUTARY_BIND=::1 was reported refused or misread. Compose takes an
// IPv6 host address for the published port written either way (::1 or
// [::1], :: or [::] for every IPv6 interface), and publishes on it.
func TestComposePublishesOnAnIPv6AddressWithOrWithoutBrackets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ bind, ip string }{
		{"::1", "::1"},
		{"[::1]", "::1"},
		{"::", "::"},
		{"[::]", "::"},
		{"fd00::7", "fd00::7"},
	} {
		api := service(t, loadCompose(t, []string{"TRIBUTARY_BIND=" + tc.bind, "TRIBUTARY_PORT=9090"}, "compose.yaml"), "api")
		if len(api.Ports) != 1 || api.Ports[0].HostIP != tc.ip || api.Ports[0].Published != "9090" || api.Ports[0].Target != 8080 {
			t.Errorf("compose api with TRIBUTARY_BIND=%s: expected 8080 published on %s port 9090, got %+v", tc.bind, tc.ip, api.Ports)
		}
	}
}

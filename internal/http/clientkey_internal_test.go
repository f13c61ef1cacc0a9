package http

import (
	"net/http/httptest"
	"testing"
)

// TestAClientIsItsAddressAnIPv6OneByItsSlash64: without tokens a client is
// its address; a host given an IPv6 /64 may use any address in it, so the
// /64 is the client, and an IPv4 address mapped into IPv6 is that IPv4
// address.
func TestAClientIsItsAddressAnIPv6OneByItsSlash64(t *testing.T) {
	t.Parallel()
	s := &Server{}
	key := func(remote string) string {
		r := httptest.NewRequest("GET", "/events", nil)
		r.RemoteAddr = remote
		k := s.clientKey(r, "")
		return k
	}
	same := [][2]string{
		{"[2001:db8::1]:5000", "[2001:db8::ffff:1]:6000"},
		{"[fe80::1%eth0]:1", "[fe80::2%eth1]:2"},
		{"[::ffff:10.0.0.1]:1", "10.0.0.1:2"},
		{"10.0.0.1:1", "10.0.0.1:2"},
	}
	for _, p := range same {
		if a, b := key(p[0]), key(p[1]); a != b {
			t.Errorf("%s and %s: clients %q and %q, want one", p[0], p[1], a, b)
		}
	}
	differ := [][2]string{
		{"[2001:db8::1]:5000", "[2001:db8:0:1::1]:5000"},
		{"10.0.0.1:1", "10.0.0.2:1"},
	}
	for _, p := range differ {
		if a, b := key(p[0]), key(p[1]); a == b {
			t.Errorf("%s and %s: both client %q, want two", p[0], p[1], a)
		}
	}
}

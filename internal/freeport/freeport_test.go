package freeport

import (
	"net"
	"slices"
	"strconv"
	"testing"
)

// TestPortsAreFreeDistinctAndOutsideTheEphemeralRange: the ports given to
// the servers tests start are free, distinct, and never ones an outgoing
// connection could take meanwhile; so is Addr's, where a test may also
// expect no server (which a parallel test's on port 0 could otherwise get).
func TestPortsAreFreeDistinctAndOutsideTheEphemeralRange(t *testing.T) {
	t.Parallel()
	ports := Ports(t, 11)
	_, port, err := net.SplitHostPort(Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	ports = append(ports, p)
	for i, p := range ports {
		if lo, hi := window(ephemeralRange()); p < lo || p >= hi || !Given(p) || slices.Contains(ports[:i], p) {
			low, high := ephemeralRange()
			t.Fatalf("ports %v: %d is not a distinct port given in [%d, %d), for the ephemeral range [%d, %d]", ports, p, lo, hi, low, high)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d was given as free: %v", p, err)
		}
		ln.Close()
	}
}

// TestNoPortIsGivenTwice: tests run in parallel, and a port given to one is
// free until its server binds it (a mariadbd's start takes seconds, a Galera
// node's up to a minute), and again between a kill and a restart on it:
// given to another test meanwhile, it would be two servers' port.
func TestNoPortIsGivenTwice(t *testing.T) {
	t.Parallel()
	// 1,000 of the 22,768 ports below the default range: by chance, a
	// repeat is all but certain. A smaller window takes fewer.
	lo, hi := window(ephemeralRange())
	picks := min(1000, (hi-lo)/2)
	given := map[int]int{}
	for i := range picks {
		var p int
		if i%2 == 0 {
			p = Ports(t, 1)[0]
		} else {
			ln := Listen(t)
			p = ln.Addr().(*net.TCPAddr).Port
			ln.Close()
		}
		if j, ok := given[p]; ok {
			t.Fatalf("port %d was given at pick %d and again at %d; want every port once", p, j+1, i+1)
		}
		given[p] = i
	}
}

// TestTheWindowIsOutsideTheEphemeralRangeWhereverItIs: a machine tuned for
// many connections may start its ephemeral range low (1024); the ports
// given must still be outside it, above it if there is room, rather than
// in [10000, 32768), the default's gap, which such a range covers.
func TestTheWindowIsOutsideTheEphemeralRangeWhereverItIs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ low, high, lo, hi int }{
		{32768, 60999, lowest, 32768}, // Linux's default
		{49152, 65535, lowest, 49152}, // IANA's
		{1024, 65000, 65001, 65536},
		{15000, 65535, lowest, 15000},
		{10000, 60999, 61000, 65536},
		{1024, 65535, lowest, 65536}, // no room outside: any port, given once still
	} {
		lo, hi := window(tc.low, tc.high)
		if lo != tc.lo || hi != tc.hi {
			t.Errorf("ephemeral range [%d, %d]: ports [%d, %d) given; want [%d, %d)", tc.low, tc.high, lo, hi, tc.lo, tc.hi)
		}
	}
}

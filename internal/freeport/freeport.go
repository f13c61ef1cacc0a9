// Package freeport gives tests loopback ports for the servers they start, or
// start again, later: ports outside the kernel's range of ephemeral ports
// (below it, on most machines), each given once in a process.
//
// A port from that range (what listening on port 0 hands out) can be given,
// between the moment a test learns it and the moment its server listens on
// it, to any process that listens on port 0 or dials out: a Galera cluster's
// nodes start up to a minute apart, and a fault proxy listens again after a
// cut that lasts as long as the test wants, while the machine's other tests
// start servers and open connections all along (a CI failure: "bind: Address
// already in use"). Outside the range, only a process that asks for the port
// by number can take it; and a port given to one test is not given to
// another, which may run in parallel and find it free too.
package freeport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// lowest: no port below it is given, the usual ports of the services
// a machine may run.
const lowest = 10000

// given is every port given in this process.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Listen listens on a port of 127.0.0.1 outside the ephemeral range that
// was not given before in this process, or fails the test. The caller closes it.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	given.Lock()
	defer given.Unlock()
	return listen(t)
}

// Ports returns n distinct ports of 127.0.0.1 that were free a moment ago,
// outside the ephemeral range, and not given before in this process.
func Ports(t testing.TB, n int) []int {
	t.Helper()
	given.Lock()
	defer given.Unlock()
	ports := make([]int, n)
	for i := range ports {
		ln := listen(t)
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// Addr returns 127.0.0.1:PORT, a port from Ports.
func Addr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(Ports(t, 1)[0]))
}

// listen is Listen, with given locked.
func listen(t testing.TB) net.Listener {
	t.Helper()
	lo, hi := window(ephemeralRange())
	for range 1000 {
		port := lo + rand.IntN(hi-lo)
		if given.ports[port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // taken
		}
		given.ports[port] = true
		return ln
	}
	t.Fatalf("find a free port of 127.0.0.1 in [%d, %d): none in 1000 tries", lo, hi)
	return nil
}

// window returns the ports [lo, hi) to give, for the ephemeral range
// [low, high]: those from lowest up to it where there is room, else those
// above it. A range that leaves no room either way (1024 to 65535) leaves
// only ports that an outgoing connection may take: then any from lowest up,
// each still given once.
func window(low, high int) (lo, hi int) {
	switch {
	case low-lowest >= minWindow:
		return lowest, low
	case 65535-high >= minWindow:
		return high + 1, 65536
	}
	return lowest, 65536
}

// minWindow is the fewest ports a window outside the ephemeral range is
// taken with: a run gives a few dozen.
const minWindow = 256

// Given reports whether port was given in this process (by Listen, Ports
// or Addr).
func Given(port int) bool {
	given.Lock()
	defer given.Unlock()
	return given.ports[port]
}

// ephemeralRange is the kernel's range of ephemeral ports, first and last
// (Linux's ip_local_port_range; its default, 32768 to 60999, where that
// cannot be read).
func ephemeralRange() (low, high int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768, 60999
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return 32768, 60999
	}
	low, err1 := strconv.Atoi(fields[0])
	high, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil || low > high {
		return 32768, 60999
	}
	return low, high
}

//go:build linux

package http

import (
	"net"
	"testing"
	"time"
)

// BenchmarkWaitStalled is what the stall check between writes costs a
// subscriber at each keep-alive, on a real socket that holds nothing
// unacknowledged: an idle subscriber's, the common case of a thousand.
func BenchmarkWaitStalled(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	g := &stallGuard{timeout: time.Hour, acked: ackedBytes(server), queued: queuedBytes(server)}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		g.waitStalled(now)
	}
}

package http

import (
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAdmitAtTheBound is the cost of one new connection at the
// server's bound (admit's search for a connection to close, victim, under
// the lock every connection's state change takes) where none may be
// closed: n connections serving requests whose responses wait on the
// database, not on their clients, or receiving bodies that come fast
// enough; the worst a flood of new connections meets. paced=false walks
// every time, as admit did before victimWalkEvery.
func BenchmarkAdmitAtTheBound(b *testing.B) {
	for _, kind := range []struct {
		name string
		kind int
	}{{"responding", responding}, {"receiving", receiving}} {
		for _, paced := range []bool{false, true} {
			for _, n := range []int{100, 10000} {
				b.Run(kind.name+"/paced="+strconv.FormatBool(paced)+"/"+strconv.Itoa(n), func(b *testing.B) {
					c := NewConnections(n, n, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
					past := time.Now().Add(-time.Hour)
					c.mu.Lock()
					for i := range n {
						key := "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)
						c.clients[key] = &connClient{open: 1}
						c.open++
						t := &trackedConn{c: c, client: key}
						c.wait(t, kind.kind)
						t.since = past
						t.bodyRead.Store(1 << 50) // fast enough
					}
					c.mu.Unlock()
					b.ResetTimer()
					for b.Loop() {
						c.mu.Lock()
						pace := (*victimPace)(nil)
						if paced {
							pace = &c.pace // as admit walks
						}
						v := victim(c.lists(), time.Now(), SilentGrace, pace)
						c.mu.Unlock()
						if v != nil {
							b.Fatal("a victim where none may be closed")
						}
					}
				})
			}
		}
	}
}

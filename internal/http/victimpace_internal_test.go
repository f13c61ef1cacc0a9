package http

import (
	"log/slog"
	"strconv"
	"testing"
	"time"
)

// TestAFruitlessSearchOfTheBusyConnectionsIsNotRepeatedAtOnce: at a bound,
// each new connection walked every connection serving a request, or
// receiving a body, under the lock every connection's state change takes,
// looking for one to close: 0.7 ms a connection at 10,000
// (BenchmarkAdmitAtTheBound), and a flood of new connections at the bound
// held the lock most of the time. A walk that found none is not made again
// for victimWalkEvery; what the fronts of the lists say (a silent
// connection, one in its headers, one idle) is still looked at each time.
// The lists here are walked at a time the test gives (now), not a clock's.
func TestAFruitlessSearchOfTheBusyConnectionsIsNotRepeatedAtOnce(t *testing.T) {
	for _, kind := range []struct {
		name string
		kind int
	}{{"responding", responding}, {"receiving", receiving}} {
		t.Run(kind.name, func(t *testing.T) {
			c := NewConnections(10, 10, slog.New(slog.DiscardHandler), nil)
			now := time.Now()
			conns := make([]*trackedConn, 3)
			c.mu.Lock()
			defer c.mu.Unlock()
			for i := range conns {
				key := "10.0.0." + strconv.Itoa(i)
				c.clients[key] = &connClient{open: 1}
				c.open++
				conns[i] = &trackedConn{c: c, client: key}
				c.wait(conns[i], kind.kind)
				conns[i].since = now.Add(-time.Minute)
				conns[i].bodyRead.Store(1 << 50) // fast enough
			}
			if v := victim(c.lists(), now, SilentGrace, &c.pace); v != nil {
				t.Fatalf("a victim among connections none of which may be closed")
			}
			// The last becomes one to close: a body that stopped, a
			// response whose write waits on a client that reads nothing.
			slow := conns[2]
			slow.bodyRead.Store(0)
			slow.writingSince.Store(now.Add(-time.Minute).UnixNano())
			if v := victim(c.lists(), now.Add(victimWalkEvery/2), SilentGrace, &c.pace); v != nil {
				t.Errorf("searched again %s after a fruitless search: want the walk not made before %s", victimWalkEvery/2, victimWalkEvery)
			}
			// A silent one is found at once all the same.
			silentOne := &trackedConn{c: c, client: "10.0.0.9"}
			c.clients["10.0.0.9"] = &connClient{open: 1}
			c.open++
			c.wait(silentOne, silent)
			silentOne.since = now.Add(-time.Minute)
			if v := victim(c.lists(), now.Add(victimWalkEvery/2), SilentGrace, &c.pace); v != silentOne {
				t.Errorf("a connection silent for a minute, between two walks: victim %p; want it (%p)", v, silentOne)
			}
			c.unidle(silentOne)
			c.releaseLocked(silentOne)
			if v := victim(c.lists(), now.Add(victimWalkEvery), SilentGrace, &c.pace); v != slow {
				t.Errorf("searched %s after a fruitless search: victim %p; want the slow one (%p)", victimWalkEvery, v, slow)
			}
		})
	}
}

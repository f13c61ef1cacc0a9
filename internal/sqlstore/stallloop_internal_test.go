package sqlstore

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// resumingServerConnector is a server stopped (SIGSTOP, hung) and then
// resumed: until resumed is closed, its first connection never answers a
// ping, and every later Connect is taken and never greeted, waiting for its
// context; once resumed, every Connect waiting or new is greeted, and its
// pings answered. It counts the watch loop's Connects cut in their
// handshake (their context of five bounds), the Connects waiting with no
// bound (waitGreeting's), and those greeted.
type resumingServerConnector struct {
	bound                           time.Duration
	resumed                         chan struct{}
	n, loopCut, unbounded, answered atomic.Int64
	greetingWaits
}

func (c *resumingServerConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	deadline, bounded := ctx.Deadline()
	loop := bounded && time.Until(deadline) > 2*c.bound
	if !bounded {
		c.unbounded.Add(1)
		defer c.add()()
	}
	select {
	case <-c.resumed:
		c.answered.Add(1)
		return pingConn{bad: new(atomic.Bool), ping: func(context.Context) error { return nil }}, nil
	case <-ctx.Done():
		if loop {
			c.loopCut.Add(1)
		}
		return nil, ctx.Err()
	}
}

func (c *resumingServerConnector) Driver() driver.Driver { return nil }

// greetingWaits counts a connector's new connections waiting for their
// greeting with no bound (waitGreeting's), and the most of them at once.
type greetingWaits struct {
	waiting, most atomic.Int64
}

// add counts one more new connection waiting; the func it returns counts it
// gone.
func (g *greetingWaits) add() func() {
	for n := g.waiting.Add(1); ; {
		most := g.most.Load()
		if n <= most || g.most.CompareAndSwap(most, n) {
			break
		}
	}
	return func() { g.waiting.Add(-1) }
}

// watchUntilStalled starts a stall watch of c with bound, closed when the test
// ends, and waits until it says the database is stalled.
func watchUntilStalled(t *testing.T, c driver.Connector, bound time.Duration) *stallWatch {
	t.Helper()
	w := startStallWatch(c, slog.New(slog.DiscardHandler), bound)
	t.Cleanup(w.close)
	waitFor(t, "the stall", func() bool { return w.err() != nil })
	return w
}

// TestTheWatchCutsNoHandshakeOfItsOwnWhileANewConnectionWaitsForItsGreeting:
// against a server that takes connections and says nothing (stopped,
// hung), the watch lets one new connection wait for its greeting
// (waitGreeting), as a handshake cut counts against the server's
// max_connect_errors for the host once it answers again (past it, the host
// is refused every session until FLUSH HOSTS). But its own loop went on
// pinging on new connections, each cut in its handshake at its five bounds
// (every 25 s): a hundred of them, MariaDB's default, in some 40 minutes of
// a stall. The loop now waits for that connection's greeting, which ends
// the stall, and pings again after it; meanwhile one more new connection
// waits each ping's time, none cut (to find a server moved in a failover:
// TestAStallEndsOnceNewConnectionsAreAnsweredThoughTheGreetingWaitHangs),
// never more than stallGreetingWaits at once.
func TestTheWatchCutsNoHandshakeOfItsOwnWhileANewConnectionWaitsForItsGreeting(t *testing.T) {
	t.Parallel()
	bound := 20 * time.Millisecond
	c := &resumingServerConnector{bound: bound, resumed: make(chan struct{})}
	w := watchUntilStalled(t, c, bound)
	waitFor(t, "a new connection waiting for its greeting", func() bool { return c.unbounded.Load() >= 1 })
	// Room for three of the loop's pings of five bounds each: it pinged
	// again at once after the first ended.
	time.Sleep(3 * stallPingBounds * bound)
	if cut := c.loopCut.Load(); cut != 0 {
		t.Errorf("a server that takes connections and says nothing, while a new connection waits for its greeting: "+
			"the watch's loop cut %d connections of its own in their handshake; want none", cut)
	}
	if most := c.most.Load(); most > stallGreetingWaits {
		t.Errorf("%d new connections waited for their greeting at once; want at most %d", most, stallGreetingWaits)
	}
	close(c.resumed)
	waitFor(t, "the stall's end once the server greets", func() bool { return w.err() == nil })
	waitFor(t, "the loop's pings answered again", func() bool { return c.answered.Load() >= 2 })
}

package sqlstore

import (
	"context"
	"database/sql/driver"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// failoverConnector is a primary that hangs (stopped, its host's kernel
// still taking connections, or a TCP proxy's backend hung) and is then
// failed over (a DNS name or a proxy's backend moved to a healthy server):
// every connection made before failedOver is closed is taken and never
// greeted, for ever (it stays with the hung server); every connection made
// after it is greeted and its pings answered. It counts the new
// connections that wait with no bound (waitGreeting's), the most of them
// waiting at once, and those cut (their context ended) before closing is
// set.
type failoverConnector struct {
	failedOver      chan struct{}
	n, greeted, cut atomic.Int64
	closing         atomic.Bool
	greetingWaits
}

func (c *failoverConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.n.Add(1) == 1 {
		return pingConn{bad: new(atomic.Bool), ping: silentPing}, nil
	}
	select {
	case <-c.failedOver:
		c.greeted.Add(1)
		return pingConn{bad: new(atomic.Bool), ping: func(context.Context) error { return nil }}, nil
	default:
	}
	if _, bounded := ctx.Deadline(); !bounded {
		defer c.add()()
	}
	<-ctx.Done() // stuck with the hung server
	if !c.closing.Load() {
		c.cut.Add(1)
	}
	return nil, ctx.Err()
}

func (c *failoverConnector) Driver() driver.Driver { return nil }

// TestAStallEndsOnceNewConnectionsAreAnsweredThoughTheGreetingWaitHangs:
// the greeting wait's connection is stuck with the hung server; after a
// failover every new connection is answered. The watch waited for that one
// connection alone, however long (a proxy keeps its session with the hung
// backend for hours): the stall never ended, every append and read refused
// 503 against a healthy primary. One more new connection now waits each
// ping's time, and the first greeted ends the stall.
func TestAStallEndsOnceNewConnectionsAreAnsweredThoughTheGreetingWaitHangs(t *testing.T) {
	t.Parallel()
	bound := 20 * time.Millisecond
	c := &failoverConnector{failedOver: make(chan struct{})}
	w := watchUntilStalled(t, c, bound)
	time.Sleep(3 * stallPingBounds * bound)
	close(c.failedOver)
	deadline := time.Now().Add(10 * time.Second)
	for w.err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("failed over to a healthy server 10 s ago (%d connections greeted since): still stalled, every append and read refused 503; "+
				"want the stall ended by the next new connection", c.greeted.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestALongStallFindsAMovedServerWithFewHandshakesCut: a server that says
// nothing for long, then failed over. The new connections that wait for
// their greeting are never more than stallGreetingWaits at once; past
// that, the oldest is cut for the next, ever less often (one each ping's
// time, twenty here, was cut before the watch waited for its greeting);
// and the server the name moved to is still found.
func TestALongStallFindsAMovedServerWithFewHandshakesCut(t *testing.T) {
	t.Parallel()
	bound := 20 * time.Millisecond
	c := &failoverConnector{failedOver: make(chan struct{})}
	w := watchUntilStalled(t, c, bound)
	waitFor(t, "as many new connections waiting as may", func() bool { return c.most.Load() >= stallGreetingWaits })
	time.Sleep(20 * stallPingBounds * bound)
	if cut, most := c.cut.Load(), c.most.Load(); most > stallGreetingWaits || cut > 8 {
		t.Errorf("a server that says nothing, some %d pings' time after as many new connections wait as may: %d waited at once, %d cut in their handshake; "+
			"want at most %d at once, at most 8 cut (the first new connection, then one each time, twice as long as the last)", 20, most, cut, stallGreetingWaits)
	}
	close(c.failedOver)
	waitFor(t, "the stall's end once a new connection reaches the server moved to", func() bool { return w.err() == nil })
	c.closing.Store(true)
}

// TestTheWatchWaitsAtMostFiveMinutesForOneMoreNewConnection: at the
// service's bound, one more new connection waits a ping's time (25 s)
// after the last, and never more than 5 minutes once as many wait as may.
func TestTheWatchWaitsAtMostFiveMinutesForOneMoreNewConnection(t *testing.T) {
	t.Parallel()
	if first, longest := greetingEvery(stallBound); first != 25*time.Second || longest != 5*time.Minute {
		t.Errorf("one more new connection waits %v after the last at first, at most %v later; want 25s and 5m0s", first, longest)
	}
}

// TestAServerMovedAfterTheStallsCutsAreSpentIsFound: once a stall's
// handshake cuts were spent (some two hours of a silent server), the
// watch dialled nothing new until a waiting connection ended by itself:
// a database whose DNS name then moved to a healthy server was never
// found, every append and read refused until a restart. One more new
// connection is dialled, the oldest waiting cut for it, once each
// stallSpentCutEvery of the longest waits (an hour at the service's
// bound): a moved server is found within that.
func TestAServerMovedAfterTheStallsCutsAreSpentIsFound(t *testing.T) {
	t.Parallel()
	const cuts = 1
	bound := 20 * time.Millisecond
	c := &failoverConnector{failedOver: make(chan struct{})}
	var logs testlog.Buffer
	w := startStallWatchCutting(c, slog.New(slog.NewTextHandler(&logs, nil)), bound, cuts)
	t.Cleanup(w.close)
	waitFor(t, "the stall's cuts spent, and said", func() bool { return strings.Contains(logs.String(), "cuts one new connection an hour") })
	close(c.failedOver)
	waitFor(t, "the stall's end once a new connection reaches the server moved to", func() bool { return w.err() == nil })
	c.closing.Store(true)
}

package http

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// closeCountingConn is a deadlineConn that says whether it was closed.
type closeCountingConn struct {
	deadlineConn
	closed *atomic.Bool
}

func (c closeCountingConn) Close() error { c.closed.Store(true); return nil }

// TestAnAppendClosedForANewConnectionIsOpenBeyondTheBoundsOnlyAsARefusalIs:
// an append whose body trickles, closed at a bound for a new connection,
// gives its place at once but stays open to answer its 408: net/http
// writes it and then waits half a second (its lingering close) before it
// closes, so the connection is open past the bounds as a refused one is
// while it is answered. The refused ones are at most maxRefusing (past it,
// one is closed unanswered), so that the files held for clients stay
// within TRIBUTARY_MAX_CONNECTIONS and 64; the appends so answered were
// not counted, and a client replacing its trickling appends as fast as
// they are closed held hundreds more, past the 128 files set aside. They
// are counted among the answers now: with maxRefusing being answered, the
// append is closed at once, unanswered (nothing was written); with room,
// it holds a place among them until it is closed.
func TestAnAppendClosedForANewConnectionIsOpenBeyondTheBoundsOnlyAsARefusalIs(t *testing.T) {
	c := NewConnections(1, 1, slog.New(slog.DiscardHandler), nil)
	trickling := func(addr string) (*trackedConn, *atomic.Bool) {
		closed := new(atomic.Bool)
		tc := c.admit(closeCountingConn{deadlineConn{addrConn{addr: addr}}, closed}).(*trackedConn)
		c.ConnState(tc, http.StateActive)
		if receiveBody(ConnContext(context.Background(), tc)) == nil {
			t.Fatal("receiveBody: nil; want the connection listed as receiving its body")
		}
		c.mu.Lock()
		tc.since = time.Now().Add(-2 * SilentGrace) // nothing came in a grace past its own
		c.mu.Unlock()
		return tc, closed
	}

	// maxRefusing refusals being answered: no room for another answer.
	for range cap(c.refusing) {
		c.refusing <- struct{}{}
	}
	first, firstClosed := trickling("10.0.0.1:1")
	next := c.admit(deadlineConn{addrConn{addr: "10.0.0.2:1"}})
	if next == nil || !first.shut.Load() {
		t.Fatalf("a new connection at the bound of 1 held by a trickling append: admitted %v, the append's closed for it %v; want both", next != nil, first.shut.Load())
	}
	if !firstClosed.Load() {
		t.Errorf("a trickling append closed for a new connection while %d refusals are answered: left open to answer its 408; "+
			"want it closed at once, as a refused connection is past that many", cap(c.refusing))
	}

	// Room for one answer: the append answers its 408, counted among the
	// answers until its connection is closed.
	next.Close()
	<-c.refusing
	second, _ := trickling("10.0.0.3:1")
	if c.admit(deadlineConn{addrConn{addr: "10.0.0.4:1"}}) == nil || !second.shut.Load() {
		t.Fatal("a new connection at the bound held by a trickling append: want it admitted, the append closed for it")
	}
	if n := len(c.refusing); n != cap(c.refusing) {
		t.Errorf("a trickling append closed for a new connection, answering its 408: %d answers counted; want %d, it among them", n, cap(c.refusing))
	}
	second.Close() // net/http's, once the 408 is written
	if n := len(c.refusing); n != cap(c.refusing)-1 {
		t.Errorf("the append answered and closed: %d answers counted; want %d, its place among them given back", n, cap(c.refusing)-1)
	}
}

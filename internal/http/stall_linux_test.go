//go:build linux

package http

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// stalledPair returns the server side of a loopback connection whose client
// never reads, with small buffers on both ends so that a large write must wait.
func stalledPair(t *testing.T) net.Conn {
	t.Helper()
	sc, _ := stalledPairClient(t, 4096)
	return sc
}

// detachedWriter returns an eventWriter as detach leaves it, on sc, with its
// first write (which clears the hijacked connection's deadlines) done: the
// connection is the subscription's own and has no deadline set.
func detachedWriter(t *testing.T, sc net.Conn, stall time.Duration) *eventWriter {
	t.Helper()
	s := &Server{turns: make(chan struct{}, 1), deliveries: make(chan struct{}, 1)}
	g := &stallGuard{setDeadline: sc.SetWriteDeadline, timeout: stall, interval: stallInterval(stall), acked: ackedBytes(sc)}
	ew := &eventWriter{s: s, conn: sc, chunked: true, guard: g, try: tryWriter(sc)}
	g.useConn(sc)
	*ew.buffer() = append(*ew.buffer(), ": first\n\n"...)
	if err := ew.flush(); err != nil {
		t.Fatal(err)
	}
	return ew
}

// TestAShutdownCutDuringALiveWritesOneAttemptStands: shutdown's cut
// (eventWriter.cut, run by context.AfterFunc on a goroutine of its own) may
// come while a live write's one attempt (try) is in the kernel. The rest of
// that write, to a client that reads nothing, must then end at once, as it
// did when the guard began before the attempt; not wait the stall timeout.
func TestAShutdownCutDuringALiveWritesOneAttemptStands(t *testing.T) {
	const stall = 4 * time.Second
	sc := stalledPair(t)
	ew := detachedWriter(t, sc, stall)
	attempt := ew.try
	ew.try = func(bufs [][]byte) (int, error) {
		n, err := attempt(bufs)
		ew.cut() // shutdown starts while the attempt is in the kernel
		return n, err
	}
	*ew.buffer() = append(*ew.buffer(), make([]byte, 4<<20)...)
	start := time.Now()
	err := ew.flush()
	if d := time.Since(start); d > stall/4 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the write cut by shutdown during its one attempt ended after %v with %v; want it cut at once (the stall timeout is %v)", d.Round(time.Millisecond), err, stall)
	}
}

// TestASubscriberThatTakesNothingHoldsUpShutdownBriefly: at shutdown a
// subscription ends cleanly, writing its closing chunk, and that write is not
// cut short, for a reading client to see the end. But a client that takes no
// byte must not hold the shutdown (handler.Wait) for the stall timeout: the
// closing writes give up after closingStall without progress.
func TestASubscriberThatTakesNothingHoldsUpShutdownBriefly(t *testing.T) {
	// Shutdown's callback (cut) and the subscription's own sight of the
	// closing channel (finish) come in either order.
	for name, cutFirst := range map[string]bool{"cut, then finish": true, "finish alone": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const stall = 8 * time.Second
			sc := stalledPair(t)
			ew := detachedWriter(t, sc, stall)
			// Fill the client's window and the socket's buffer, with nothing
			// left pending: the next write has no room.
			chunk := [][]byte{make([]byte, 64<<10)}
			for {
				n, err := ew.try(chunk)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			if cutFirst {
				ew.cut() // nothing is pending to cut
			}
			start := time.Now()
			ew.finish()
			if d := time.Since(start); d > closingStall+time.Second || !errors.Is(ew.err, os.ErrDeadlineExceeded) {
				t.Fatalf("the closing chunk to a client that takes nothing ended after %v with %v; want it cut within %v (the stall timeout is %v)",
					d.Round(time.Millisecond), ew.err, closingStall+time.Second, stall)
			}
		})
	}
}

// stalledPairClient returns both ends of a loopback connection: the
// server's, with a small send buffer, and the client's, with a receive
// buffer of rcvbuf.
func stalledPairClient(t *testing.T, rcvbuf int) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.(*net.TCPConn).SetReadBuffer(rcvbuf) //nolint:errcheck
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	sc.(*net.TCPConn).SetWriteBuffer(8 << 10) //nolint:errcheck
	return sc, c
}

// TestAnEndingWriteToAClientThatReadsEvery1500msIsNotCut: once a
// subscription is ending (shutdown's cut, or finish), its writes "give up
// after closingStall (2 s) without progress; a client that takes bytes
// still extends it". A client that takes bytes every 1.5 s never goes 2 s
// without progress, and must not be cut.
func TestAnEndingWriteToAClientThatReadsEvery1500msIsNotCut(t *testing.T) {
	sc, c := stalledPairClient(t, 256<<10)
	ew := detachedWriter(t, sc, 8*time.Second)
	ew.cut() // shutdown: from now on the writes run under closingStall
	*ew.buffer() = append(*ew.buffer(), make([]byte, 64<<20)...)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		acked := ackedBytes(sc)
		// Bursts every 1.5 s, from 0.4 s on: never 2 s without taking bytes.
		for at := 400 * time.Millisecond; at < 5*time.Second; at += 1500 * time.Millisecond {
			time.Sleep(time.Until(start.Add(at)))
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)) //nolint:errcheck
			got := 0
			for got < 256<<10 {
				n, err := c.Read(buf)
				got += n
				if err != nil {
					break
				}
			}
			n, _ := acked()
			t.Logf("%v: read %d, acked %d", time.Since(start).Round(time.Millisecond), got, n)
		}
		c.Close() // then leave: the write fails, not by its deadline
	}()
	// flush: the ending write. stop (cut) made the guard arm on the next begin.
	err := ew.flush()
	d := time.Since(start)
	<-done
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("an ending write to a client that takes bytes every 1.5 s was cut after %v with %v; closingStall is %v", d.Round(time.Millisecond), err, closingStall)
	}
}

// TestClosingASubscriptionMidWriteStopsItsGuard: a subscription that ends in
// the middle of a guarded write (a panic, recovered off net/http's
// goroutine) must not leave the guard's timer looking at the connection for
// ever.
func TestClosingASubscriptionMidWriteStopsItsGuard(t *testing.T) {
	sc := stalledPair(t)
	ew := detachedWriter(t, sc, 40*time.Millisecond) // looks every 10 ms
	ew.sub = nopSubscription{}
	ew.stop = func() bool { return true }
	var looks atomic.Int64
	acked := ew.guard.acked
	ew.guard.acked = func() (uint64, bool) { looks.Add(1); return acked() }
	ew.guard.begin() // a write under the guard, which a panic ends
	ew.guarded = true
	ew.close()
	time.Sleep(30 * time.Millisecond)
	before := looks.Load()
	time.Sleep(100 * time.Millisecond)
	if n := looks.Load() - before; n > 0 {
		t.Fatalf("the guard looked at the closed connection %d times in 100 ms; want it stopped", n)
	}
}

// nopSubscription is a subscription with nothing to deliver.
type nopSubscription struct{ eventstore.Subscription }

func (nopSubscription) Close() {}

// TestALiveWriteToASocketAllocatesNothing: a live subscription writes each
// batch to its socket, with a thousand subscribers a thousand writes an
// event; the size line and the vector live in the writer so that a write
// allocates nothing. Its one attempt that does not wait (tryWriter) made
// three allocations of its own a write.
func TestALiveWriteToASocketAllocatesNothing(t *testing.T) {
	sc, c := stalledPairClient(t, 256<<10)
	go io.Copy(io.Discard, c) //nolint:errcheck // ends when the test closes c
	ew := detachedWriter(t, sc, 8*time.Second)
	frame := []byte("data: {}\n\n")
	if n := testing.AllocsPerRun(1000, func() {
		*ew.buffer() = append(*ew.buffer(), frame...)
		if err := ew.flush(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a live write of %d bytes to a socket made %v allocations; want none", len(frame), n)
	}
}

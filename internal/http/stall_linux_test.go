//go:build linux

package http

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// stalledPair returns the server side of a loopback connection whose client
// never reads, with small buffers on both ends so that a large write must wait.
func stalledPair(t *testing.T) net.Conn {
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
	c.(*net.TCPConn).SetReadBuffer(4096) //nolint:errcheck
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	sc.(*net.TCPConn).SetWriteBuffer(8 << 10) //nolint:errcheck
	return sc
}

// detachedWriter returns an eventWriter as detach leaves it, on sc, with its
// first write (which clears the hijacked connection's deadlines) done: the
// connection is the subscription's own and has no deadline set.
func detachedWriter(t *testing.T, sc net.Conn, stall time.Duration) *eventWriter {
	t.Helper()
	s := &Server{turns: make(chan struct{}, 1), deliveries: make(chan struct{}, 1)}
	g := &stallGuard{setDeadline: sc.SetWriteDeadline, timeout: stall, interval: max(min(stall/4, time.Second), 10*time.Millisecond),
		acked: ackedBytes(sc)}
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

package http

import (
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestAResponseReadSteadilyOnASlowLinkIsNeverClosedForANewConnection: a
// response's write can wait seconds on a client that reads all the while:
// an event larger than a page's buffer (up to 1 MiB) goes to the socket
// in one write, and the kernel wakes a writer only once much of its send
// buffer (megabytes, autotuned) has drained. A write that had waited
// SilentGrace was taken for one on a client that reads nothing: at a
// bound, a client reading a page of a few MB at 110 KB/s was cut at the
// first new connection. A write that has waited SilentGrace is the one to
// cut only where its client has taken less than MinBodyRate a second of it
// since (TCP_INFO's bytes acknowledged), as a body must come at. Here the
// client reads 16 KiB every 25 ms (640 KiB/s) of one 3 MiB write through
// a small send buffer: seconds in one write.
func TestAResponseReadSteadilyOnASlowLinkIsNeverClosedForANewConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { server.Close() })
	if tcp, ok := server.(*net.TCPConn); ok {
		tcp.SetWriteBuffer(64 << 10) //nolint:errcheck // a hint: the write waits on the reader sooner
	}

	c := NewConnections(10, 10, slog.New(slog.DiscardHandler), nil)
	tc := c.admit(server).(*trackedConn)
	c.ConnState(tc, http.StateActive) // serving a request: on the responding lists
	c.mu.Lock()
	tc.since = time.Now().Add(-SilentGrace) // its request began a grace ago
	c.mu.Unlock()

	const size = 3 << 20
	written := make(chan error, 1)
	go func() {
		_, err := tc.Write(make([]byte, size)) // one large write, as of a large event
		written <- err
	}()
	read := make(chan int64, 1)
	go func() {
		var n int64
		buf := make([]byte, 16<<10)
		for n < size {
			m, err := client.Read(buf)
			n += int64(m)
			if err != nil {
				break
			}
			time.Sleep(25 * time.Millisecond) // at most 640 KiB/s
		}
		read <- n
	}()
	closedFor, longest := 0, time.Duration(0) // checks that would have closed it; the longest its write waited at one
	for done := false; !done; {
		select {
		case err := <-written:
			if err != nil {
				t.Fatalf("write 3 MiB to a client reading it steadily: %v", err)
			}
			done = true
		case <-time.After(20 * time.Millisecond):
			c.mu.Lock()
			if victim(c.lists(), time.Now(), SilentGrace, nil) == tc {
				closedFor++
			}
			if ws := tc.writingSince.Load(); ws != 0 {
				longest = max(longest, time.Since(time.Unix(0, ws)))
			}
			c.mu.Unlock()
		}
	}
	if n := <-read; n != size {
		t.Fatalf("the client read %d bytes; want the %d written", n, size)
	}
	if closedFor > 0 {
		t.Errorf("a response read steadily at up to 640 KiB/s was the connection to close for a new one at %d checks (its write waited up to %v); "+
			"want never: its client takes more than %d bytes a second", closedFor, longest, MinBodyRate)
	}
	t.Logf("the write waited up to %v at a check", longest)
}

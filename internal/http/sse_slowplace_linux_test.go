package http

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAByteSlowClientWritingOneLargeEventGivesUpItsPlaceWithinTheStallTimeout:
// a subscription reading the store keeps its place in the catch-up budget
// until its client has taken what it read; with others waiting it ends its
// page after a turn, but only between events. The stall timeout cuts a
// client that takes nothing, and a client that takes a few bytes at a time
// is never cut: writing it one large event kept the place for as long as
// it took (here 1 MiB at 20 KB/s, about 50 s), and everyone waiting for a
// place waited that long. With others waiting, such a write now gets the
// stall timeout, however many bytes its client takes, and the next
// subscription reads. On both stores.
func TestAByteSlowClientWritingOneLargeEventGivesUpItsPlaceWithinTheStallTimeout(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		data := fmt.Appendf(nil, `{"pad":"%s"}`, strings.Repeat("x", 1000<<10))
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: data}}}); err != nil {
			t.Fatal(err)
		}
		// One place at a time.
		const stall = time.Second
		s, feed := feedServer(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, CatchUpBytes: 1},
			Options{Heartbeat: stall / 2, StallTimeout: stall})
		srv := serveRaw(t, s, true)

		dial := func(rcvbuf int) net.Conn {
			// Segments as small as on a network (loopback's are 64 KiB): a
			// client that reads a little at a time opens its window a little
			// at a time, and the server sees each as progress.
			d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
				var err error
				if cerr := c.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, 1400) }); cerr != nil {
					return cerr
				}
				return err
			}}
			c, err := d.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if rcvbuf > 0 {
				c.(*net.TCPConn).SetReadBuffer(rcvbuf) //nolint:errcheck // a hint
			}
			fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
			return c
		}
		// The slow client: 1 KiB every 50 ms, with a small window that it
		// opens several times a second.
		slow := dial(4096)
		var took atomic.Int64
		go func() {
			buf := make([]byte, 1<<10)
			for {
				n, err := slow.Read(buf)
				if took.Add(int64(n)); err != nil {
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
		waitUntil(t, 10*time.Second, "the slow client to hold its place and take bytes", func() bool {
			return feed.CatchUpBytes() > 0 && took.Load() > 8<<10
		})

		start := time.Now()
		c := dial(0)
		c.SetReadDeadline(time.Now().Add(2 * time.Minute)) //nolint:errcheck // only a bound on a hang
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("subscribing: %v, %v", resp, err)
		}
		p := ssetest.NewParser(resp.Body, "")
		for {
			f, _, err := p.Next()
			if err != nil {
				t.Fatalf("behind a client taking 20 KB/s of an event of 1000 KiB, a subscription waiting for the one place got no caught-up in %v (%v); the slow client had taken %d bytes; want the place back within about the stall timeout, %v",
					time.Since(start).Round(time.Millisecond), err, took.Load(), stall)
			}
			if f.Event == "caught-up" {
				break
			}
		}
		// Not a clock: what the slow client had taken when the place came
		// back. Held until its write ended, the place came back once the
		// client had taken about all of the event (but what the sockets
		// hold); given up after the stall timeout, after a few tens of KiB.
		if n := took.Load(); n >= int64(len(data))/2 {
			t.Errorf("a subscription waiting for the one place behind a byte-slow client caught up after %v, when that client had taken %d of the event's %d bytes; want the place back within about the stall timeout, %v, long before the write ends",
				time.Since(start).Round(time.Millisecond), n, len(data), stall)
		}
	})
}

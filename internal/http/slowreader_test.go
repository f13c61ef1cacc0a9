package http_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAtTheBoundAClientThatStopsReadingALargePageGivesItsPlaceUp: a client
// that asked for a page larger than the socket's buffers hold (12 MB) and
// then read nothing held its connection at TRIBUTARY_MAX_CONNECTIONS while
// the handler waited to write, until the response's write deadline
// (TRIBUTARY_REQUEST_TIMEOUT and 5 s): never idle, silent nor in its
// headers, it could not be closed for a new one, and a few such readers
// locked every other client out. A response that has waited on its client
// in one write for SilentGrace gives its place up at a bound, after any
// kept-alive one: it is cut (its status is sent: the client sees it end
// short), and the new connection is served.
// The page is read from the database in chunks, so no database connection
// waits on the client meanwhile. Until a write has waited SilentGrace the
// new connection is refused 503, as it should be; it tries again, as a
// client does, rather than once after a fixed sleep, which on a loaded
// machine came before the handlers' writes had waited that long. On both
// stores.
func TestAtTheBoundAClientThatStopsReadingALargePageGivesItsPlaceUp(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		id := uuid.New()
		pad := strings.Repeat("x", 900<<10)
		for range 3 {
			var events []eventstore.NewEvent
			for range 4 {
				events = append(events, eventstore.NewEvent{ID: uuid.New(), Type: "Large", Data: []byte(`{"pad":"` + pad + `"}`)})
			}
			if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "t", Events: events}); err != nil {
				t.Fatalf("append: %v", err)
			}
		}
		addr := boundedAPI(t, store, 2, 2)
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")},
			Control: func(_, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) //nolint:errcheck // a hint
				})
			}}
		var readers []*rawConn
		asked := time.Now()
		for range 2 {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			if _, err := fmt.Fprintf(c, "GET /streams/%s/events HTTP/1.1\r\nHost: test\r\n\r\n", id); err != nil {
				t.Fatal(err)
			}
			readers = append(readers, &rawConn{Conn: c, r: bufio.NewReader(c)})
		}

		// Until a reader's write has waited SilentGrace (its handler has
		// first to read the page and fill the buffers: long on a loaded
		// machine), there is none to close, and a new connection is
		// refused 503, rightly: it tries again, as a client obeying
		// Retry-After does, until one is cut for it.
		refused := answeredWhenRoomIsMade(t, addr, "127.0.0.3", "GET /readyz on a new connection while two clients hold a bound of 2 reading nothing of large pages",
			http.StatusOK, func(c *rawConn) error {
				_, err := io.WriteString(c, "GET /readyz HTTP/1.1\r\nHost: test\r\n\r\n")
				return err
			})
		t.Logf("the new connection was refused %d times before a reader was cut for it, %v after the readers asked", refused, time.Since(asked).Round(time.Millisecond))

		// Each reader reads its response: the one cut for the new
		// connection ends short of the page (12 MB); the other is served
		// all of it.
		cut := 0
		for i, c := range readers {
			n, err := readResponse(c)
			switch {
			case isTimeout(err):
				t.Fatalf("reader %d: its response neither ended nor was cut within %v (%d bytes of its body read): %v", i, hangGuard, n, err)
			case err != nil:
				cut++
			case n < 12*900<<10:
				t.Errorf("reader %d was served its page whole in %d bytes; want at least the 12 events' %d", i, n, 12*900<<10)
			}
		}
		if cut != 1 {
			t.Fatalf("%d of the 2 readers that read nothing were cut for one new connection; want 1", cut)
		}
	})
}

// hangGuard bounds each wait of these tests on the server only so that a
// server that never answers fails them rather than hangs them: far beyond
// any wait on a loaded machine, it times nothing.
const hangGuard = 30 * time.Second

// readResponse reads the response to the request sent on c and its body,
// within hangGuard, and returns how many bytes of the body it read and
// the error that ended it short (nil if it came whole).
func readResponse(c *rawConn) (int64, error) {
	c.SetReadDeadline(time.Now().Add(hangGuard)) //nolint:errcheck
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return io.Copy(io.Discard, resp.Body)
}

package http_test

import (
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
	esthttp "github.com/tributary-dev/tributary/internal/http"
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
// waits on the client meanwhile. On both stores.
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
		var readers []net.Conn
		for range 2 {
			c, err := d.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			if _, err := fmt.Fprintf(c, "GET /streams/%s/events HTTP/1.1\r\nHost: test\r\n\r\n", id); err != nil {
				t.Fatal(err)
			}
			readers = append(readers, c)
		}
		time.Sleep(esthttp.SilentGrace + time.Second) // the handlers fill the buffers and wait

		late := dialFrom(t, addr, "127.0.0.3")
		late.send(t, "/readyz")
		if resp, body := late.answer(t); resp.StatusCode != http.StatusOK {
			t.Fatalf("a new connection while two clients hold a bound of 2 reading nothing of large pages: %d %s; want 200, one of them closed for it", resp.StatusCode, body)
		}
		cut := 0
		for _, c := range readers {
			// Read what was sent: the one cut ends (short of the page's
			// 12 MB); the other goes on, and is left at the deadline.
			c.SetReadDeadline(time.Now().Add(3 * time.Second)) //nolint:errcheck
			n, err := io.Copy(io.Discard, c)
			if err == nil {
				cut++
				if n >= 12*900<<10 {
					t.Errorf("the reader closed for a new connection got %d bytes, the whole page; want it cut short", n)
				}
			}
		}
		if cut != 1 {
			t.Fatalf("%d of the 2 readers that read nothing closed for one new connection; want 1", cut)
		}
	})
}

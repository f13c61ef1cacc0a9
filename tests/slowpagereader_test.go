package tests

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestClientsThatStopReadingLargePagesCannotLockOthersOut: clients that
// asked for pages larger than the sockets' buffers hold (12 MB) and read
// nothing held their connections at TRIBUTARY_MAX_CONNECTIONS while the
// handlers waited to write, until TRIBUTARY_REQUEST_TIMEOUT and 5 s, every
// other client refused 503 meanwhile. At the bound, a response that has
// waited 2 s on its client in one write is cut for a new connection, which
// is served. On both stores.
func TestClientsThatStopReadingLargePagesCannotLockOthersOut(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := startServer(t, append(k.ServerEnv, "TRIBUTARY_MAX_CONNECTIONS=2", "TRIBUTARY_MAX_CONNECTIONS_PER_CLIENT=2", "TRIBUTARY_DEBUG_ADDR=127.0.0.1:0")...)
		debugAddr := ""
		for _, l := range s.logLines() {
			if l["msg"] == "debug listening" {
				debugAddr, _ = l["addr"].(string)
			}
		}
		if debugAddr == "" {
			t.Fatalf("no \"debug listening\" log line with its address. Output:\n%s", s.output(4<<10))
		}
		id := newID()
		pad := strings.Repeat("x", 900<<10)
		for range 3 {
			var evs []newEvent
			for range 4 {
				evs = append(evs, newEvent{Type: "Large", Data: map[string]string{"pad": pad}})
			}
			s.mustAppend(t, id, appendBody{StreamType: "t", Events: evs})
		}
		s.client.CloseIdleConnections() // the readers alone hold the places
		waitConnectionsOpen(t, debugAddr, 0, "the appends' connection closed")
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")},
			Control: func(_, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) //nolint:errcheck // a hint
				})
			}}
		for range 2 {
			c, err := d.Dial("tcp", hostPort(s.URL))
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			if _, err := fmt.Fprintf(c, "GET /streams/%s/events HTTP/1.1\r\nHost: test\r\n\r\n", id); err != nil {
				t.Fatal(err)
			}
		}
		waitConnectionsOpen(t, debugAddr, 2, "two readers connected")
		// Until the handlers have filled the buffers and waited 2 s more
		// on their clients (later than that under load), nothing qualifies
		// to be cut and the new client is rightly refused 503: it tries
		// again, on a fresh connection, as a client obeying Retry-After
		// does, until one is cut for it. The guard only stops a hang.
		asked := time.Now()
		for refused := 0; ; refused++ {
			resp, err := getFrom(s, "127.0.0.3", "/readyz", 10*time.Second)
			if err != nil {
				t.Fatalf("GET /readyz from another client while two hold a bound of 2 reading nothing of large pages (after %d refused): %v; want 200, or 503 until one of them is cut", refused, err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("the new client was refused %d times before a reader was cut for it, %v after the readers asked", refused, time.Since(asked).Round(time.Millisecond))
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET /readyz from another client while two hold a bound of 2 reading nothing of large pages: %d; want 200, or 503 until one of them is cut", resp.StatusCode)
			}
			if time.Since(asked) > 30*time.Second {
				t.Fatalf("GET /readyz from another client while two hold a bound of 2 reading nothing of large pages: refused 503 %d times over 30 s; want 200, one of them cut once its write has waited 2 s", refused+1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

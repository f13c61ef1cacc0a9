package tests

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// prompt is how long an operation may take while slow clients weigh on the
// server. The failure it guards against is a wait for a database connection
// until a slow client's write deadline (30 s) frees one.
const prompt = 5 * time.Second

// stalledClient is a raw connection that sent a request, read a little of the
// answer and then stopped reading, with a tiny receive buffer so the server's
// writes block soon.
type stalledClient struct{ conn net.Conn }

// stallOn sends GET path (with extra header lines) and reads up to 512 bytes.
func stallOn(t *testing.T, s *server, path string, header ...string) *stalledClient {
	t.Helper()
	return dialAndSend(t, s, 4096, path, header...)
}

// dialAndSend is stallOn with a receive buffer of rcvbuf bytes (0: the
// system's, which grows as the client reads).
func dialAndSend(t *testing.T, s *server, rcvbuf int, path string, header ...string) *stalledClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		if rcvbuf == 0 {
			return nil
		}
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = setReceiveBuffer(fd, rcvbuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	req := "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + strings.Join(header, "") + "\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatalf("send %s: %v", path, err)
	}
	// Read the start of the answer, if it comes; the checks are on the others.
	conn.SetReadDeadline(time.Now().Add(time.Second)) //nolint:errcheck
	conn.Read(make([]byte, 512))                      //nolint:errcheck
	return &stalledClient{conn: conn}
}

// dialAndStall is stallOn for another goroutine: it sends GET path, reads
// nothing and returns the connection, or nil if it could not (the test's
// checks are on the others).
func dialAndStall(s *server, path string, header ...string) net.Conn {
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			setReceiveBuffer(fd, 4096) //nolint:errcheck // a hint
		})
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		return nil
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + strings.Join(header, "") + "\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		conn.Close()
		return nil
	}
	return conn
}

// timed runs fn and fails the test if it took longer than prompt.
func timed(t *testing.T, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	if took := time.Since(start); took > prompt {
		t.Errorf("%s took %s while slow clients held their answers; expected under %s", what, took.Round(time.Millisecond), prompt)
	}
}

// bigBatch is n events with about size bytes of data each.
func bigBatch(n, size int) []newEvent {
	pad := strings.Repeat("x", size)
	out := make([]newEvent, n)
	for i := range out {
		out[i] = newEvent{ID: newID(), Type: "Big", Data: map[string]any{"i": i, "pad": pad}}
	}
	return out
}

// readPoolWaits is how many times a read has waited for a connection of
// the server's read pool, once the reads in flight have ended (the pool
// has none in use): those of clients that take nothing end as soon as
// what they read is handed over.
func readPoolWaits(t *testing.T, srv *server) float64 {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); ; {
		m := scrape(t, srv)
		if m[`go_sql_in_use_connections{db_name="reads"}`] == 0 {
			return m[`go_sql_wait_count_total{db_name="reads"}`]
		}
		if time.Now().After(end) {
			t.Fatalf("the read pool still had %.0f connections in use after 30 s", m[`go_sql_in_use_connections{db_name="reads"}`])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return fi.Size()
}

func TestSlowReadersCannotStarveLiveDeliveryReadsAppendsOrReadiness(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		dataDir := t.TempDir()
		// A read pool of 4 on MySQL; SQLite's is 8. 16 slow clients are well past either.
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_MYSQL_MAX_CONNS=4", "TRIBUTARY_DATA_DIR="+dataDir)...)
		const slow = 16
		// About 12 MB of history, far more than the socket buffers hold.
		stream := newID()
		for i := 0; i < 12; i++ {
			srv.mustAppend(t, stream, appendBody{StreamType: "big", Events: bigBatch(100, 10_000)})
		}
		// And 25 MB in events of 500 KB, which subscribers catching up read
		// a page of two at a time: each read of the store a query or two.
		large := newID()
		for i := 0; i < 10; i++ {
			srv.mustAppend(t, large, appendBody{StreamType: "large", Events: bigBatch(5, 500_000)})
		}
		const head = 1250
		live := subscribe(t, srv, "/events?after="+strconv.Itoa(head))
		live.requireRetry(t)
		live.requireCaughtUp(t, head)

		for i := 0; i < slow/2; i++ {
			stallOn(t, srv, "/events", "Accept: text/event-stream\r\n")
			stallOn(t, srv, "/events?limit=1000")
			stallOn(t, srv, fmt.Sprintf("/streams/%s/events?limit=1000", stream))
		}
		// A hundred subscribers catching up on the large events, which
		// take none of them: each read of history is quick, but together
		// they took every connection of the read pool, and another
		// client's read of a page (1 to 8 ms alone) waited behind them for
		// seconds (0.8 to 1.9 s here; 0.08 to 0.3 s with the bound). With
		// the catch-up budget, half of the pool, their reads and one
		// client's never wait for a connection: the read pool's count of
		// waits stays where it was. They open at once; pages are read
		// meanwhile.
		waits := readPoolWaits(t, srv)
		const catchingUp = 100
		var opening sync.WaitGroup
		stalled := make(chan net.Conn, catchingUp)
		for range catchingUp {
			opening.Go(func() { stalled <- dialAndStall(srv, "/events?after=1200", "Accept: text/event-stream\r\n") })
		}
		var slowest time.Duration
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
			start := time.Now()
			requireStatus(t, srv.get(t, "/streams?limit=1"), http.StatusOK)
			slowest = max(slowest, time.Since(start))
		}
		opening.Wait()
		close(stalled)
		for c := range stalled {
			if c != nil {
				t.Cleanup(func() { c.Close() })
			}
		}
		if n := readPoolWaits(t, srv) - waits; n > 0 {
			t.Errorf("reads waited %.0f times for a connection of the read pool while %d subscribers caught up beside one client reading pages; expected the subscribers to leave it room (none)", n, catchingUp)
		}
		t.Logf("slowest read of a page beside %d subscribers catching up: %s", catchingUp, slowest.Round(time.Millisecond))
		time.Sleep(time.Second) // let their answers fill the socket buffers and block

		wal := filepath.Join(dataDir, "tributary.db-wal")
		var walBefore int64
		if srv.DSN == "" {
			walBefore = fileSize(t, wal)
		}
		var last appendResult
		timed(t, "an append", func() {
			last = srv.mustAppend(t, newID(), appendBody{StreamType: "small", Events: events(1, "Ping")})
		})
		timed(t, "live delivery of that append", func() {
			want := strconv.FormatInt(last.Events[0].Position, 10)
			for {
				f, err := live.recv(2 * prompt)
				if err != nil {
					t.Fatalf("live subscriber: expected the event with id %s, got: %v", want, err)
				}
				if f.HasData {
					if f.ID != want {
						t.Fatalf("live subscriber: expected the event with id %s, got %s", want, f)
					}
					return
				}
			}
		})
		timed(t, "a plain read", func() {
			requireStatus(t, srv.get(t, "/events?after=1200&limit=10"), http.StatusOK)
		})
		timed(t, "a list of streams", func() {
			requireStatus(t, srv.get(t, "/streams?limit=1"), http.StatusOK)
		})
		timed(t, "a stream read", func() {
			requireStatus(t, srv.get(t, "/streams/"+stream+"/events?limit=5"), http.StatusOK)
		})
		timed(t, "GET /readyz", func() {
			requireStatus(t, srv.get(t, "/readyz"), http.StatusOK)
		})
		if srv.DSN == "" {
			// Open read transactions would stop every checkpoint, and the WAL
			// would grow by all of this.
			const written = 40 << 20
			for i := 0; i < 40; i++ {
				srv.mustAppend(t, stream, appendBody{Events: bigBatch(100, 10_000)})
			}
			if grew := fileSize(t, wal) - walBefore; grew > written/2 {
				t.Errorf("the WAL grew by %d MB while %d MB were appended beside slow readers; expected checkpoints to keep it small", grew>>20, written>>20)
			}
		}
	})
}

// TestSubscriptionsOpeningTogetherLeaveTheReadPoolRoom: a subscription
// opens with a read of the store (the log's head; a stream's version when
// it starts past version 1), before it has a place in the catch-up budget.
// A hundred opening at once must not take the read pool from a client
// reading pages beside them: its reads never wait for a connection. Log
// and stream subscriptions, on both stores.
func TestSubscriptionsOpeningTogetherLeaveTheReadPoolRoom(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_MYSQL_MAX_CONNS=4")...)
		stream := newID()
		srv.mustAppend(t, stream, appendBody{StreamType: "s", Events: events(3, "E")})
		for _, path := range []string{"/events?after=1", "/streams/" + stream + "/events?from=2"} {
			waits := readPoolWaits(t, srv)
			const opening = 100
			var open sync.WaitGroup
			conns := make(chan net.Conn, opening)
			for range opening {
				open.Go(func() { conns <- dialAndStall(srv, path, "Accept: text/event-stream\r\n") })
			}
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
				requireStatus(t, srv.get(t, "/streams?limit=1"), http.StatusOK)
			}
			open.Wait()
			close(conns)
			for c := range conns {
				if c != nil {
					t.Cleanup(func() { c.Close() })
				}
			}
			if n := readPoolWaits(t, srv) - waits; n > 0 {
				t.Errorf("GET %s: reads waited %.0f times for a connection of the read pool while %d subscriptions opened beside one client reading pages; expected them to leave it room (none)", path, n, opening)
			}
		}
	})
}

// TestASlowButSteadySubscriberIsNeverCutAndAStalledOneIs: a subscriber that
// reads 20 KB/s through a long history keeps its subscription however long
// the server's writes block, because its connection keeps taking bytes; one
// that stops reading is cut once the stall timeout passes without a byte.
func TestASlowButSteadySubscriberIsNeverCutAndAStalledOneIs(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const stall = 2 * time.Second
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT=2s", "TRIBUTARY_HEARTBEAT=500ms")...)
		stream := newID()
		for i := 0; i < 8; i++ { // 8 MB of history: more than the socket buffers hold
			srv.mustAppend(t, stream, appendBody{StreamType: "big", Events: bigBatch(100, 10_000)})
		}
		// A small receive buffer makes its window reopen every few KB: on
		// loopback (MSS 64 KB) a large one reopens only each 64 KB read.
		steady := dialAndSend(t, srv, 8192, "/events", "Accept: text/event-stream\r\n")
		stalled := stallOn(t, srv, "/events", "Accept: text/event-stream\r\n")

		// 2 KB every 100 ms for 10 s: five stall timeouts long. The kernel
		// holds megabytes of the answer, so a cut would not show in what the
		// client reads for minutes: the server's log says when it ended.
		buf := make([]byte, 2048)
		var got int
		for end := time.Now().Add(5 * stall); time.Now().Before(end); {
			steady.conn.SetReadDeadline(time.Now().Add(stall)) //nolint:errcheck
			n, err := io.ReadFull(steady.conn, buf)
			got += n
			if err != nil {
				t.Fatalf("the steady reader, after %d bytes at 20 KB/s: %v; expected its subscription to stay open", got, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		ended := func(c *stalledClient) bool {
			for _, l := range srv.logLines() {
				if l["msg"] == "request" && l["remote"] == c.conn.LocalAddr().String() {
					return true
				}
			}
			return false
		}
		if ended(steady) {
			t.Errorf("the server ended the subscription of a client reading 20 KB/s; expected it to stay open while the client takes bytes")
		}
		if !ended(stalled) {
			t.Errorf("the subscription of a client that stopped reading is still open after %s; expected it cut after the %s stall timeout", 5*stall, stall)
		}
	})
}

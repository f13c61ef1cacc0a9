package http

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestLiveWritesHoldNoMoreLargeFramesThanTheBound: live subscribers share
// the large frames they write, but subscribers that stall one after the
// other each wait on another event, and each kept its frame alive: as many
// large events as stalled subscribers. What live writes hold of large frames
// is bounded now, all together (pinLimit): a subscriber past it reads the
// event from the store, in its turn in the catch-up budget. Here eight
// subscribers stall each on another event of 300 KiB, with room for two:
// the frames held never pass it, and once the clients read again each gets
// every event once, in order, and nothing stays pinned. On both stores.
func TestLiveWritesHoldNoMoreLargeFramesThanTheBound(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s, feed := feedServer(t, store, fanout.Options{PollInterval: 10 * time.Millisecond}, Options{Heartbeat: time.Hour, StallTimeout: time.Minute})
		const subs, size = 8, 300 << 10
		s.frames.pinLimit = 2*size + 4<<10 // two of these frames
		srv := serveRaw(t, s, true)

		// Subscriber i reads the first i events, then stops until resume.
		resume := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, subs)
		for i := 1; i <= subs; i++ {
			// A fixed receive buffer that takes far less than an event (a
			// smaller one leaves a client that reads again waiting for the
			// kernel's window probes).
			c, resp := subscribeRaw(t, srv, 128<<10)
			p := ssetest.NewParser(resp.Body, "")
			for f, _, err := p.Next(); f.Event != "caught-up"; f, _, err = p.Next() {
				if err != nil {
					t.Fatal(err)
				}
			}
			wg.Go(func() {
				c.SetReadDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
				for want := 1; want <= subs+1; want++ {
					if want == i+1 {
						<-resume
					}
					f, _, err := p.Next()
					if err != nil || f.ID != strconv.Itoa(want) || len(f.Data) < size {
						errs <- fmt.Errorf("subscriber %d: frame %.40q (%d bytes), %v; want the event at position %d, whole", i, f.ID, len(f.Data), err, want)
						return
					}
				}
			})
		}
		data := fmt.Appendf(nil, `{"pad":"%s"}`, strings.Repeat("x", size))
		for range subs + 1 {
			if _, err := s.store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "X", Data: data}}}); err != nil {
				t.Fatal(err)
			}
		}
		peak := 0
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
			peak = max(peak, s.frames.pinnedBytes())
		}
		if peak > s.frames.pinLimit {
			t.Errorf("live writes to %d subscribers stalled on as many events held %d KiB of large frames; want at most the bound, %d KiB",
				subs, peak>>10, s.frames.pinLimit>>10)
		}
		if peak == 0 || feed.Dropped() == 0 {
			t.Errorf("live writes held up to %d bytes of large frames and %d subscribers read from the store; want some of both, or the test proves nothing",
				peak, feed.Dropped())
		}
		close(resume)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for s.frames.pinnedBytes() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := s.frames.pinnedBytes(); n > 0 {
			t.Errorf("every write done, %d bytes of large frames are still pinned; want none", n)
		}
	})
}

// SmallSendBuffers gives its connections a small send buffer, and hands
// them out as they are (raw sockets, unlike wrappingListener's). It is
// exported, in a test file, so that the package's tests and its external
// (http_test) tests share the one listener.
type SmallSendBuffers struct{ *net.TCPListener }

func (l SmallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	c.SetWriteBuffer(8 << 10) //nolint:errcheck // a hint
	return c, nil
}

// feedServer returns a Server over store with opts, its Feed a fan-out of
// fo that runs until the test ends, and that fan-out.
func feedServer(t *testing.T, store eventstore.Store, fo fanout.Options, opts Options) (*Server, *fanout.Feed) {
	t.Helper()
	feed := fanout.New(store, fo)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	t.Cleanup(stopFeed)
	go feed.Run(feedCtx)
	opts.Feed = feed
	return New(feed.Notifying(store), opts), feed
}

// serveRaw serves s on loopback with the connection context that
// subscriptions need, with small send buffers if small (SmallSendBuffers).
// When the test ends, the subscriptions are closed, then the server.
func serveRaw(t *testing.T, s *Server, small bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(s)
	srv.Config.ConnContext = ConnContext
	if small {
		srv.Listener = SmallSendBuffers{srv.Listener.(*net.TCPListener)}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(s.CloseSubscriptions)
	return srv
}

// subscribeRaw subscribes to srv's /events on a connection of its own,
// closed when the test ends, with a receive buffer of rcvbuf bytes unless
// rcvbuf is 0, and returns the connection and the 200 that answered.
func subscribeRaw(t *testing.T, srv *httptest.Server, rcvbuf int) (net.Conn, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if rcvbuf > 0 {
		c.(*net.TCPConn).SetReadBuffer(rcvbuf) //nolint:errcheck // a hint
	}
	fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("subscribing: %v, %v", resp, err)
	}
	return c, resp
}

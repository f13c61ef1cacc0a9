//go:build linux

package http_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// pacedReader hands on what its connection sends a little at a time, with a
// pause between reads: a client whose receive window is zero most of the
// time, but which takes bytes every twentieth of the stall timeout.
type pacedReader struct {
	c     net.Conn
	chunk int
	pause time.Duration
}

func (s *pacedReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.c.Read(p[:min(len(p), s.chunk)])
}

var _ io.Reader = (*pacedReader)(nil)

// TestASlowClientAndAnIdleOneAreNotCutByTheStallCheck: the stall check
// where a subscription waits (stallGuard.waitStalled, at keep-alives and
// before each read of history) must cut only a client that takes nothing.
// Here a client with a receive buffer of 4 KiB reads 2 KiB every 100 ms
// (stall timeout 2 s, far above its pauses even on a loaded machine): its
// window is shut most of the time, its socket holds bytes at every check,
// but what it acknowledges moves. It must get its whole history (about
// 100 KiB, seconds of it), its caught-up, a large live event, and then,
// idle with nothing to send, 25 keep-alives (more than the stall timeout)
// and one more event, never cut. On both stores.
func TestASlowClientAndAnIdleOneAreNotCutByTheStallCheck(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		data := []byte(`"` + strings.Repeat("x", 8<<10) + `"`)
		evs := make([]eventstore.NewEvent, 12)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "E", Data: data}
		}
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
			t.Fatal(err)
		}
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, PageSize: 2})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { feed.Run(ctx); close(done) }()
		srv := httptest.NewUnstartedServer(esthttp.New(feed.Notifying(store),
			esthttp.Options{Feed: feed, Heartbeat: 100 * time.Millisecond, StallTimeout: 2 * time.Second}))
		srv.Config.ConnContext = esthttp.ConnContext
		srv.Start()
		t.Cleanup(func() { srv.Close(); cancel(); <-done })

		c := subscribeWithSmallReceiveBuffer(t, srv.Listener.Addr().String())
		br := bufio.NewReaderSize(&pacedReader{c: c, chunk: 2 << 10, pause: 100 * time.Millisecond}, 2<<10)
		events, keepAlives := 0, 0
		readUntil := func(what string, cond func() bool) {
			t.Helper()
			for !cond() {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("cut before %s (%d events, %d keep-alives read): %v", what, events, keepAlives, err)
				}
				switch {
				case strings.HasPrefix(line, "data: ") && (strings.Contains(line, `"type":"E"`) || strings.Contains(line, `"type":"Live"`)):
					events++
				case strings.HasPrefix(line, ": keep-alive"):
					keepAlives++
				}
			}
		}
		readUntil("its whole history", func() bool { return events == len(evs) })
		appendOne := func(typ string, pad int) {
			t.Helper()
			data := []byte(`"` + strings.Repeat("x", pad) + `"`)
			if _, err := feed.Notifying(store).Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "Live", Data: data}}}); err != nil {
				t.Fatal(err)
			}
		}
		appendOne("Live", 64<<10)
		readUntil("a large live event", func() bool { return events == len(evs)+1 })
		from := keepAlives
		readUntil("25 keep-alives while idle", func() bool { return keepAlives >= from+25 })
		appendOne("Live", 10)
		readUntil("a live event after being idle", func() bool { return events == len(evs)+2 })
	})
}

//go:build linux

package http_test

import (
	"bufio"
	"context"
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

// TestALiveSubscriberWhoseClientStoppedReadingIsCutAtAKeepAlive: a live
// subscription's keep-alive judged its client (stallGuard.waitStalled) but
// let the verdict go: the keep-alive was then written in one attempt that
// needs no guard, which a socket with room took, and a client that had
// taken nothing for the stall timeout kept its subscription until its
// socket's buffers filled (hundreds of KiB of keep-alives: hours). Here a
// live subscriber's client reads until it sees an event, then stops, with a
// receive buffer of 4 KiB full of a second event it never takes: the
// subscription must end. On both stores.
func TestALiveSubscriberWhoseClientStoppedReadingIsCutAtAKeepAlive(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { feed.Run(ctx); close(done) }()
		srv := httptest.NewUnstartedServer(esthttp.New(feed.Notifying(store),
			esthttp.Options{Feed: feed, Heartbeat: 50 * time.Millisecond, StallTimeout: 500 * time.Millisecond}))
		srv.Config.ConnContext = esthttp.ConnContext
		srv.Start()
		t.Cleanup(func() { srv.Close(); cancel(); <-done })

		c := subscribeWithSmallReceiveBuffer(t, srv.Listener.Addr().String())
		br := bufio.NewReader(c)
		readUntil := func(what string) {
			t.Helper()
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("reading until %q: %v", what, err)
				}
				if strings.Contains(line, what) {
					return
				}
			}
		}
		readUntil("caught-up")
		untilState(t, "the subscription to go live", func() bool { return feed.Subscribers() == 1 })
		appendOne := func(typ string, pad int) {
			t.Helper()
			data := []byte(`"` + strings.Repeat("x", pad) + `"`)
			if _, err := feed.Notifying(store).Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: typ, Data: data}}}); err != nil {
				t.Fatal(err)
			}
		}
		appendOne("Seen", 10)
		readUntil("Seen")
		// From here the client reads nothing: an event larger than its
		// receive buffer stays, in part, in the server's socket.
		appendOne("Unread", 64<<10)
		untilState(t, "the live subscription of a client that took nothing for the stall timeout to end", func() bool {
			return feed.Subscribers() == 0
		})
	})
}

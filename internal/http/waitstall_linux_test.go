//go:build linux

package http_test

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// heldReads is a store whose subscriptions' reads of history after the
// first page wait until their context ends, as on a database slow to answer
// or a turn of the catch-up reads that does not come.
type heldReads struct {
	eventstore.Store
	once    sync.Once
	began   chan struct{} // closed once such a read waits
	stopped chan struct{} // closed once one's context ended
}

func (h *heldReads) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if opts.After == 0 || opts.UpTo == 0 {
		return h.Store.ReadAll(ctx, opts)
	}
	h.once.Do(func() { close(h.began) })
	<-ctx.Done()
	select {
	case <-h.stopped:
	default:
		close(h.stopped)
	}
	return eventstore.LogPage{}, ctx.Err()
}

// TestAStalledSubscriberWaitingOnTheStoreIsCutByTheStallTimeout: the stall
// guard judged a subscription only in a write that blocked. One whose
// client stopped reading, but whose socket still took its last page, then
// waited for its next read of history (a place in the catch-up budget, a
// turn of the reads, the database) unjudged, and read page after page into
// its socket's buffers before a write blocked: an attacker's stalled
// subscribers outlived a stall timeout of 3 s by 20 s and more, each
// reading megabytes from MySQL. Now a subscription whose client has taken
// none of the bytes its socket holds for the stall timeout is cut where it
// waits. Here its first page (32 KiB) fits in its socket, its second read
// waits on the store for ever, and its client never reads: it must end, its
// read cut. On both stores.
func TestAStalledSubscriberWaitingOnTheStoreIsCutByTheStallTimeout(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		base := k.Open(t)
		data := []byte(`"` + strings.Repeat("x", 8<<10) + `"`)
		evs := make([]eventstore.NewEvent, 12)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "E", Data: data}
		}
		if _, err := base.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
			t.Fatal(err)
		}
		store := &heldReads{Store: base, began: make(chan struct{}), stopped: make(chan struct{})}
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, PageSize: 4})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { feed.Run(ctx); close(done) }()
		srv := httptest.NewUnstartedServer(esthttp.New(feed.Notifying(store),
			esthttp.Options{Feed: feed, Heartbeat: 50 * time.Millisecond, StallTimeout: 500 * time.Millisecond}))
		// A send buffer of a fixed size, which takes the first page whole.
		lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 256<<10) //nolint:errcheck // a hint
			})
		}}
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener.Close()
		srv.Listener = l
		srv.Config.ConnContext = esthttp.ConnContext
		srv.Start()
		t.Cleanup(func() { srv.Close(); cancel(); <-done })

		subscribeWithSmallReceiveBuffer(t, l.Addr().String())
		// It never reads.
		untilState(t, "the subscription to write its first page and wait on the store for its second", func() bool {
			select {
			case <-store.began:
				return true
			default:
				return false
			}
		})
		untilState(t, "the subscription of a client that took nothing for the stall timeout to end while it waited on the store", func() bool {
			return feed.Subscribers() == 0
		})
		untilState(t, "the stalled subscription's read of the store to be cut as it ended", func() bool {
			select {
			case <-store.stopped:
				return true
			default:
				return false
			}
		})
	})
}

package http_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestStalledCatchingUpClientsHoldNoMoreHeapThanTheBudget: a place in the
// catch-up budget counts a page and what the subscription's writer holds
// besides; large frames share the page's data rather than copy it, so a
// place no longer counts a copy of the largest event. An event not on one
// line is still copied to be written (its frame is compacted): its
// subscription then asks for a place with room for that copy. Ten clients
// that stop reading while they catch up on such events of 1 MiB, with a
// budget of 9 MiB, hold no more of the heap than the budget (and a little);
// places that did not count the copy let four of them hold more (11 MiB on
// SQLite). On both stores.
//
// It measures the heap, so it runs alone: not in parallel with other tests,
// and one store after the other.
func TestStalledCatchingUpClientsHoldNoMoreHeapThanTheBudget(t *testing.T) {
	teststore.ForEachSerial(t, testStalledCatchingUpHeap)
}

func testStalledCatchingUpHeap(t *testing.T, k teststore.Kind) {
	store := k.Open(t)
	const maxEvent = 1 << 20
	// Pretty-printed: a frame must put it on one line, a copy.
	data := fmt.Appendf(nil, "{\n  \"pad\": \"%s\"\n}", strings.Repeat("x", maxEvent-32))
	for range 12 {
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: data}}}); err != nil {
			t.Fatal(err)
		}
	}
	data = nil
	const budget = 9 << 20
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: maxEvent, CatchUpBytes: budget})
	feedCtx, stopFeed := context.WithCancel(context.Background())
	t.Cleanup(stopFeed)
	go feed.Run(feedCtx)
	h := esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed, Heartbeat: time.Hour, StallTimeout: time.Minute})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnContext = esthttp.ConnContext
	srv.Listener = esthttp.SmallSendBuffers{srv.Listener.(*net.TCPListener)}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseSubscriptions)

	// The store's connections keep buffers the size of the largest row
	// they read (MySQL's driver): grown here, before the count starts, as
	// the clients' reads grow them.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			page, err := store.ReadAll(context.Background(), eventstore.ReadAllOptions{After: int64(i), Limit: 2})
			if err != nil {
				t.Error(err)
				return
			}
			for range page.Events { //nolint:revive // read to the end
			}
		})
	}
	wg.Wait()
	before := heapBytes()
	for range 10 {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.(*net.TCPConn).SetReadBuffer(128 << 10) //nolint:errcheck // a hint
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	}
	// A place with room for a copy of an event is 3.25 MiB (a page of
	// 1 MiB, an event of 1 MiB, 256 KiB for the writer, and the copy's
	// 1 MiB): two fit in the budget. Each client first holds a place
	// without that room, reads, declines the event and asks again with it,
	// until two hold such places, stalled in their writes for the stall
	// timeout (a minute), and the eight others wait: what the stalled
	// clients hold to, which is measured. The first that waits can fit
	// no sooner than a holder gives its place back.
	untilState(t, "two stalled clients holding a place with room for a copy, eight waiting", func() bool {
		return (feed.Subscribers() == 10 && feed.CatchUpWaiting() == 8) || feed.CatchUpBytes() > budget
	})
	peak := feed.CatchUpBytes()
	// The least of a few samples: what the stalled clients hold stays,
	// while a read or a write in flight at one sample (on a busy machine,
	// one of the store's pages on its way) comes and goes.
	held := heapBytes() - before
	for range 4 {
		time.Sleep(50 * time.Millisecond)
		held = min(held, heapBytes()-before)
	}
	t.Logf("ten stalled clients catching up hold %d KiB more of the heap; places held %d KiB", held>>10, peak>>10)
	if peak > budget {
		t.Errorf("ten stalled clients hold places of %d KiB; want at most the budget, %d KiB", peak>>10, budget>>10)
	}
	if most := int64(budget + 1<<20); held > most {
		t.Errorf("ten clients stalled while catching up on events of 1 MiB not on one line hold %d KiB more of the heap; want at most the budget and a little, %d KiB",
			held>>10, most>>10)
	}
}

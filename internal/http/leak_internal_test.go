package http

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestShutdownLeavesNoSubscriptionPlacePinOrGoroutine: at shutdown,
// subscriptions of every kind end and give back all they hold: live ones
// stalled in a write of a shared large frame (pinned), ones that declined
// such a frame and wait for a place in the catch-up budget, ones stalled in
// a page of history (the place) and queued behind them, and ones that open
// as shutdown begins. Afterwards the feed counts no subscription, no byte
// of the budget is held, no large frame is pinned, and no goroutine of a
// subscription is left. On both stores.
//
// It counts the process's goroutines, so it runs alone: not in parallel with
// other tests, and one store after the other.
func TestShutdownLeavesNoSubscriptionPlacePinOrGoroutine(t *testing.T) {
	teststore.ForEachSerial(t, testShutdownLeavesNothing)
}

func testShutdownLeavesNothing(t *testing.T, k teststore.Kind) {
	store := k.Open(t)
	const size = 200 << 10
	data := fmt.Appendf(nil, `{"pad":"%s"}`, strings.Repeat("x", size))
	appendBig := func() int64 {
		t.Helper()
		res, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: data}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Events[0].Position
	}
	var head int64
	for range 6 {
		head = appendBig()
	}
	base := subscriptionGoroutines()
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, MaxEventBytes: 256 << 10, CatchUpBytes: 1}) // one place
	feedCtx, stopFeed := context.WithCancel(context.Background())
	fed := make(chan struct{})
	go func() { feed.Run(feedCtx); close(fed) }()
	defer func() { stopFeed(); <-fed }()
	s := New(feed.Notifying(store), Options{Feed: feed, Heartbeat: 50 * time.Millisecond, StallTimeout: time.Minute})
	s.frames.pinLimit = size + 4<<10 // one of these frames
	srv := httptest.NewUnstartedServer(s)
	srv.Config.ConnContext = ConnContext
	srv.Listener = SmallSendBuffers{srv.Listener.(*net.TCPListener)}
	srv.Start()
	defer srv.Close()

	// dial sends a subscription's request and never reads its answer.
	var conns []net.Conn
	var mu sync.Mutex
	dial := func(lastID int64) {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		c.(*net.TCPConn).SetReadBuffer(128 << 10) //nolint:errcheck // a hint
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nLast-Event-ID: %s\r\n\r\n", strconv.FormatInt(lastID, 10))
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 4 {
		dial(head) // caught up at once: live
	}
	for range 4 {
		dial(0) // history: one holds the place, the others queue
	}
	waitUntil(t, 5*time.Second, "eight subscriptions", func() bool { return feed.Subscribers() == 8 })
	time.Sleep(200 * time.Millisecond) // the live ones have taken their connections over
	for range 3 {
		appendBig() // the live ones stall on these: one pins, the others decline
	}
	waitUntil(t, 5*time.Second, "a live write to pin a frame", func() bool { return s.frames.pinnedBytes() > 0 })
	if feed.CatchUpBytes() == 0 {
		t.Fatal("no subscription holds a place: the test proves nothing")
	}

	// Shutdown begins among subscriptions that open.
	var openers sync.WaitGroup
	for range 8 {
		openers.Go(func() { dial(0) })
	}
	time.Sleep(time.Millisecond)
	s.CloseSubscriptions()
	openers.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("subscriptions still running 10 s after shutdown began: %v", err)
	}
	srv.Close()
	mu.Lock()
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Second)) //nolint:errcheck
		io.Copy(io.Discard, c)                         //nolint:errcheck // until the server closed it
	}
	mu.Unlock()
	waitUntil(t, 5*time.Second, "the feed to count no subscription", func() bool { return feed.Subscribers() == 0 })
	if n := feed.CatchUpBytes(); n != 0 {
		t.Errorf("after shutdown, %d bytes of the catch-up budget are still held; want none", n)
	}
	if n := s.frames.pinnedBytes(); n != 0 {
		t.Errorf("after shutdown, %d bytes of large frames are still pinned; want none", n)
	}
	waitUntil(t, 5*time.Second, fmt.Sprintf("subscriptions' goroutines back to %d", base), func() bool { return subscriptionGoroutines() <= base })
}

// waitUntil polls cond until it holds, or fails the test after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// subscriptionGoroutines counts the goroutines running a subscription's
// code, here or in the live feed.
func subscriptionGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "internal/http.(*eventWriter)") || strings.Contains(g, "internal/http.watchClose") ||
			strings.Contains(g, "internal/fanout.(*Subscription)") {
			count++
		}
	}
	return count
}

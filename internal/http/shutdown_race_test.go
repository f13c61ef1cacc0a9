package http_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestSubscriptionsRacingShutdownAreRefusedOrEndCleanly: about one
// subscription in 1,500 that opened as shutdown began was cut before its
// headers were written (the shutdown's cut of pending writes met its first
// write), and its client saw a broken connection rather than an answer.
// Each subscription opened while shutdown starts is now either refused with
// a 503 problem or answered 200 and ended cleanly (the chunked body's end),
// for its client to reconnect. Subscriptions open once shutdown has begun
// (where the old cut met nearly every first write), then rounds of them race
// a real http.Server.Shutdown, within a bounded count and time, on both
// stores.
//
// net/http itself closes, unanswered, a connection whose request it read
// after Shutdown began, before any handler sees it: those are told apart
// (the handler never saw them) and not counted against the subscriptions.
func TestSubscriptionsRacingShutdownAreRefusedOrEndCleanly(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
		feedCtx, stopFeed := context.WithCancel(context.Background())
		t.Cleanup(stopFeed)
		go feed.Run(feedCtx)

		// Subscriptions that open once shutdown has begun, the server
		// still serving: the widest window.
		h := esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed, Heartbeat: time.Hour})
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnContext = esthttp.ConnContext
		srv.Start()
		t.Cleanup(srv.Close)
		h.CloseSubscriptions()
		var ended, refused, dropped atomic.Int64
		for range 50 {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			err = subscribeAtShutdown(c, &ended, &refused)
			c.Close()
			if err != nil {
				t.Fatalf("once shutdown has begun: %v", err)
			}
		}

		const rounds, perRound = 30, 40
		deadline := time.Now().Add(20 * time.Second)
		for round := 0; round < rounds && time.Now().Before(deadline); round++ {
			if err := shutdownRound(t, feed, store, round, perRound, &ended, &refused, &dropped); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		t.Logf("%d subscriptions ended cleanly, %d refused with 503, %d requests closed unanswered by net/http before any handler",
			ended.Load(), refused.Load(), dropped.Load())
		if ended.Load() == 0 {
			t.Error("no subscription was opened before shutdown: the test proves less than it should")
		}
	})
}

// shutdownRound opens n subscriptions on a server of their own at the moment
// it shuts down, and checks each was refused or ended cleanly.
func shutdownRound(t *testing.T, feed *fanout.Feed, store eventstore.Store, round, n int, ended, refused, dropped *atomic.Int64) error {
	t.Helper()
	h := esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed, Heartbeat: time.Hour})
	var handled sync.Map // the client addresses of the requests a handler saw
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var accepted sync.WaitGroup
	accepted.Add(n)
	seen := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handled.Store(r.RemoteAddr, true)
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: seen, ConnContext: esthttp.ConnContext, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Done()
		}
	}}
	srv.RegisterOnShutdown(h.CloseSubscriptions)
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed
	// Every connection is accepted before shutdown closes the listener:
	// what the test looks at is the requests on them.
	conns := make([]net.Conn, n)
	for i := range conns {
		if conns[i], err = net.Dial("tcp", ln.Addr().String()); err != nil {
			return err
		}
		defer conns[i].Close()
	}
	accepted.Wait()
	start := make(chan struct{})
	errs := make(chan error, n)
	for _, c := range conns {
		go func() {
			<-start
			err := subscribeAtShutdown(c, ended, refused)
			if _, ok := handled.Load(c.LocalAddr().String()); errors.Is(err, errNoAnswer) && !ok {
				dropped.Add(1)
				err = nil
			}
			errs <- err
		}()
	}
	close(start)
	// Shutdown starts among the requests: later rounds start it later.
	time.Sleep(time.Duration(round%8) * 250 * time.Microsecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := h.Wait(ctx); err != nil {
		return fmt.Errorf("waiting for subscriptions to end: %w", err)
	}
	for range n {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

var errNoAnswer = errors.New("no answer")

// subscribeAtShutdown sends a subscription's request on c and checks the
// answer: a 503 problem, or a 200 whose body ends cleanly.
func subscribeAtShutdown(c net.Conn, ended, refused *atomic.Int64) error {
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	if _, err := io.WriteString(c, "GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		return fmt.Errorf("sending the request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("%w: a subscription at shutdown was cut before its headers (%w); want a 503 problem or a clean end", errNoAnswer, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusOK && err == nil:
		ended.Add(1)
	case resp.StatusCode == http.StatusOK:
		return fmt.Errorf("a subscription at shutdown was cut after %q (%w); want its body ended cleanly", body, err)
	case resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Content-Type") == "application/problem+json":
		refused.Add(1)
	default:
		return fmt.Errorf("a subscription at shutdown: status %d %q, %q (%v); want 200 ended cleanly or a 503 problem",
			resp.StatusCode, resp.Header.Get("Content-Type"), body, err)
	}
	return nil
}

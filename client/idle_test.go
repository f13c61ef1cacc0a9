package client

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/tcptest"
)

// TestSubscribeCutsASilentConnectionAndSaysWhy: a server that stops
// sending, in its body after the first frame or halfway through its
// headers (a byte now and then, never their end), or never answers, is cut after
// IdleTimeout and reconnected to. OnDisconnect was told "context
// canceled", which reads as the caller's own cancellation; it is now told
// that no byte came for IdleTimeout.
func TestSubscribeCutsASilentConnectionAndSaysWhy(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]func(net.Conn){
		"a silent body": func(conn net.Conn) {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 1\n\n") //nolint:errcheck // a test's server
			conn.Read(make([]byte, 1))                                                                     //nolint:errcheck // until the client leaves
		},
		// The request timeout, which bounds other calls, does not bound a
		// subscription: IdleTimeout bounds its wait for an answer too.
		"no answer": func(conn net.Conn) {
			conn.Read(make([]byte, 1)) //nolint:errcheck // until the client leaves
		},
		"headers that never end": func(conn net.Conn) {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nX-Slow: ") //nolint:errcheck // a test's server
			for {
				time.Sleep(20 * time.Millisecond)
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := tcptest.Serve(t, func(conn net.Conn) {
				conn.Read(make([]byte, 4096)) //nolint:errcheck // the request
				answer(conn)
			})
			c := newClient(t, "http://"+addr)
			// A safety net against a hang only: a connection not cut (a
			// trickle of header bytes that kept it alive, say) fails here.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			const idle = 200 * time.Millisecond
			start := time.Now()
			var why error
			var after time.Duration
			for _, err := range c.Subscribe(ctx, SubscribeOptions{IdleTimeout: idle, OnDisconnect: func(err error, _ time.Duration) {
				why, after = err, time.Since(start)
				cancel()
			}}) {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("ended with %v; expected the test's own cancellation, after the first disconnection", err)
				}
				break
			}
			switch {
			// No upper bound on when: on a loaded machine the cut comes late.
			// That it was the idle timeout's, and no other bound's, is in
			// what OnDisconnect is told.
			case why == nil || after < idle:
				t.Fatalf("OnDisconnect was told %v after %v; expected the connection cut once no byte came for %v", why, after, idle)
			case !strings.Contains(why.Error(), "IdleTimeout") || !strings.Contains(why.Error(), idle.String()):
				t.Errorf("OnDisconnect was told %q; expected it to say no byte came for IdleTimeout, %v", why, idle)
			}
		})
	}
}

// TestTheIdleTimeoutGoesBackOnceAKeepAliveComesWithinIt: connections the
// server answered and that went silent before any keep-alive (a server
// frozen, a partition without FIN) doubled the idle timeout for the rest
// of the subscription's life, up to eight times IdleTimeout (6 minutes by
// default to notice a dead connection), though a later connection heard
// keep-alives as often as IdleTimeout expects. A connection whose first
// keep-alive comes within IdleTimeout of its answer shows a heartbeat that
// IdleTimeout covers: the idle timeout is IdleTimeout again, for it and
// the connections after. Here two connections go silent at once (the
// timeout grows twice), the third sends a keep-alive with its answer, then
// goes silent, as does the fourth.
func TestTheIdleTimeoutGoesBackOnceAKeepAliveComesWithinIt(t *testing.T) {
	t.Parallel()
	const idle = 200 * time.Millisecond
	var conns atomic.Int64
	addr := tcptest.Serve(t, func(conn net.Conn) {
		conn.Read(make([]byte, 4096)) //nolint:errcheck // the request
		answer := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nretry: 1\n\n"
		if conns.Add(1) == 3 {
			answer += ": keep-alive\n\n"
		}
		io.WriteString(conn, answer) //nolint:errcheck // a test's server
		conn.Read(make([]byte, 1))   //nolint:errcheck // until the client leaves
	})
	c := newClient(t, "http://"+addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cuts []string
	opts := SubscribeOptions{IdleTimeout: idle, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		OnDisconnect: func(err error, _ time.Duration) {
			if cuts = append(cuts, err.Error()); len(cuts) == 4 {
				cancel()
			}
		}}
	for _, err := range c.Subscribe(ctx, opts) {
		if err != nil {
			break
		}
	}
	if len(cuts) != 4 {
		t.Fatalf("the subscription was cut %d times (%q); expected 4", len(cuts), cuts)
	}
	for i, want := range []string{"no byte came for 200ms", "no byte came for 400ms", "no byte came for 200ms", "no byte came for 200ms"} {
		if !strings.Contains(cuts[i], want) {
			t.Errorf("connection %d was cut with %q; expected %q", i+1, cuts[i], want)
		}
	}
	if strings.Contains(cuts[2], "no keep-alive") {
		t.Errorf("the connection that heard a keep-alive was cut with %q; expected no word of a longer heartbeat", cuts[2])
	}
	if !strings.Contains(cuts[3], "waits 400ms") {
		t.Errorf("the silent connection after it was cut with %q; expected the idle timeout to grow again from IdleTimeout (400ms)", cuts[3])
	}
}

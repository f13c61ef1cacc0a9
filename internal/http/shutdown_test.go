package http_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// TestStalledSubscribersInEveryStateHoldUpShutdownBriefly: with the stall timeout
// far away, shutdown (CloseSubscriptions, then Wait) must not wait on
// subscribers that stopped reading, whatever state they are in.
func TestStalledSubscribersInEveryStateHoldUpShutdownBriefly(t *testing.T) {
	const stall = 20 * time.Second
	for _, tc := range []struct {
		name    string
		proto   string
		wrapped bool
		history bool // stalled during catch-up, on net/http's goroutine
	}{
		{"live 1.1", "HTTP/1.1", false, false},
		{"live 1.0", "HTTP/1.0", false, false},
		{"live wrapped", "HTTP/1.1", true, false},
		{"history 1.1", "HTTP/1.1", false, true},
		{"history wrapped", "HTTP/1.1", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, h, srv := liveServerOn(t, esthttp.Options{Heartbeat: stall / 4, StallTimeout: stall}, func(l net.Listener) net.Listener {
				l = esthttp.SmallSendBuffers{l.(*net.TCPListener)}
				if tc.wrapped {
					l = wrappingListener{l}
				}
				return l
			})
			data := fmt.Appendf(nil, `{"pad":"%s"}`, strings.Repeat("x", 64<<10))
			appendN := func(n int) {
				for range n {
					if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
						Events: []eventstore.NewEvent{{Type: "X", Data: data}}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.history {
				appendN(100)
			}
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			c.(*net.TCPConn).SetReadBuffer(4096) //nolint:errcheck
			fmt.Fprintf(c, "GET /events %s\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n", tc.proto)
			if !tc.history {
				time.Sleep(300 * time.Millisecond) // live and taken over by now
				appendN(20)
			}
			time.Sleep(time.Second) // the server's write waits on the client, who never reads
			start := time.Now()
			h.CloseSubscriptions()
			ctx, cancel := context.WithTimeout(context.Background(), stall)
			defer cancel()
			err = h.Wait(ctx)
			if d := time.Since(start); err != nil || d > 4*time.Second {
				t.Fatalf("shutdown waited %v (%v) for a subscriber that reads nothing; the stall timeout is %v", d.Round(time.Millisecond), err, stall)
			}
		})
	}
}

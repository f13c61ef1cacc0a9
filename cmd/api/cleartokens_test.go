package main

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// listenerAt is a listener on the loopback that reports another address,
// as one on every interface or a host's own would, without the test
// listening there.
type listenerAt struct {
	net.Listener
	addr net.Addr
}

func (l listenerAt) Addr() net.Addr { return l.addr }

// TestTokensOverPlainHTTPOffTheLoopbackAreWarnedOf: with tokens set and the
// server listening in plain HTTP (it has no TLS) on an address other hosts
// reach, every request's bearer token crossed the network in clear unless
// a proxy terminating TLS was in front, and nothing said so. One WARN at
// start says it now; on the loopback only, or without tokens (whose own
// warning says access control is off), none.
func TestTokensOverPlainHTTPOffTheLoopbackAreWarnedOf(t *testing.T) {
	t.Parallel()
	tokens := []esthttp.Token{{Name: "svc", Role: esthttp.RoleWrite, Secret: "0123456789abcdef0123"}}
	for _, tc := range []struct {
		name   string
		addr   net.Addr
		tokens []esthttp.Token
		warned int
	}{
		{"every interface, tokens", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, tokens, 1},
		{"a host address, tokens", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 8080}, tokens, 1},
		{"loopback, tokens", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, tokens, 0},
		{"IPv6 loopback, tokens", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, tokens, 0},
		{"every interface, no tokens", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := teststore.OpenSQLite(t, t.TempDir())
			cfg := config.Defaults()
			cfg.Addr = "127.0.0.1:0"
			logs := &testlog.Buffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			listen := func(network, a string) (net.Listener, error) {
				ln, err := net.Listen(network, a)
				if err != nil {
					return nil, err
				}
				return listenerAt{ln, tc.addr}, nil
			}
			done := make(chan error, 1)
			go func() {
				done <- serveOn(ctx, context.Background(), cfg, serveHooks{listen: listen}, tc.tokens, store, nil, log, metrics.New("test"))
			}()
			waitListening(t, logs)
			stop()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("serve did not return after SIGTERM")
			}
			warned := 0
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `"level":"WARN"`) && strings.Contains(l, "plain HTTP") {
					warned++
					if strings.Contains(l, tokens[0].Secret) {
						t.Errorf("the warning shows the token: %s", l)
					}
				}
			}
			if warned != tc.warned {
				t.Errorf("listening on %s with %d tokens: %d warnings of tokens in plain HTTP; expected %d. The log:\n%s",
					tc.addr, len(tc.tokens), warned, tc.warned, logs.String())
			}
		})
	}
}

package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheListeningLinesSayTheAddressAsConfigured: TRIBUTARY_DEBUG_ADDR=
// 0.0.0.0:6060 was logged as [::]:6060 (what Go's dual-stack listener
// reports), and an operator looking for what was set found another
// address. The "listening" and "debug listening" lines say the host as
// configured, with the port bound (a number where 0 was asked), and the
// listener's own address beside it as "bound" where that reads otherwise.
func TestTheListeningLinesSayTheAddressAsConfigured(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Addr = "0.0.0.0:0"
	cfg.DebugAddr = "0.0.0.0:0"
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- serveOn(ctx, context.Background(), cfg, serveHooks{}, nil, teststore.SQLite.Open(t).(closableStore), nil, log, metrics.New("test"))
	}()
	waitListening(t, logs)
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the stop: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the stop did not end")
	}
	lines := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("a log line that is not JSON: %q", l)
		}
		lines[m["msg"].(string)] = m
	}
	for _, c := range []struct{ line, key string }{{"listening", "addr"}, {"debug listening", "addr"}, {"listening", "debug"}} {
		addr, _ := lines[c.line][c.key].(string)
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "0.0.0.0" || port == "0" {
			t.Errorf("the %q line's %s is %q; want 0.0.0.0, as configured, with the port bound", c.line, c.key, addr)
			continue
		}
		if c.key != "addr" {
			continue
		}
		// The listener's own address, where it reads otherwise ([::] on a
		// dual-stack host), is beside it, with the same port.
		if bound, ok := lines[c.line]["bound"].(string); ok {
			if _, bport, err := net.SplitHostPort(bound); err != nil || bport != port || bound == addr {
				t.Errorf("the %q line's bound is %q beside addr %q; want the listener's own address, with the same port, where it differs", c.line, bound, addr)
			}
		}
	}
}

// TestTheAddressLoggedIsTheOneConfiguredWithItsPortBound: the host as
// written, the port as bound; the listener's own address only where it
// reads otherwise.
func TestTheAddressLoggedIsTheOneConfiguredWithItsPortBound(t *testing.T) {
	t.Parallel()
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	for _, tc := range []struct {
		configured    string
		ln            net.Addr
		logged, bound string
	}{
		{"0.0.0.0:6060", tcp("::", 6060), "0.0.0.0:6060", "[::]:6060"},
		{"0.0.0.0:6060", tcp("0.0.0.0", 6060), "0.0.0.0:6060", ""},
		{":8080", tcp("::", 8080), ":8080", "[::]:8080"},
		{"127.0.0.1:0", tcp("127.0.0.1", 41234), "127.0.0.1:41234", ""},
		{"localhost:6060", tcp("127.0.0.1", 6060), "localhost:6060", "127.0.0.1:6060"},
		{"[::1]:6060", tcp("::1", 6060), "[::1]:6060", ""},
		{":http", tcp("::", 80), ":80", "[::]:80"},
	} {
		logged, bound := listenedAddr(tc.configured, tc.ln)
		if logged != tc.logged || bound != tc.bound {
			t.Errorf("listenedAddr(%q, %s) = %q, %q; want %q, %q", tc.configured, tc.ln, logged, bound, tc.logged, tc.bound)
		}
	}
}

package http_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStopLogsTheRefusalsNotYetLogged: refusals are logged at most once
// per 10 s, the others held for the next line, and a stop within those
// 10 s never wrote them: the metric said 4 refused, the log 1. The
// listener's close (Shutdown's, Close's, a failed Serve's) now writes the
// refusals not yet logged, by bound, before the server's stop returns.
func TestAStopLogsTheRefusalsNotYetLogged(t *testing.T) {
	for _, stop := range []struct {
		name string
		stop func(*http.Server, chan struct{}) error
	}{
		{"Shutdown", func(srv *http.Server, release chan struct{}) error {
			close(release) // the held requests end, and the drain with them
			return srv.Shutdown(context.Background())
		}},
		{"Close", func(srv *http.Server, release chan struct{}) error {
			defer close(release)
			return srv.Close()
		}},
	} {
		t.Run(stop.name, func(t *testing.T) {
			t.Parallel()
			logs := &testlog.Buffer{}
			conns := esthttp.NewConnections(3, 1, slog.New(slog.NewJSONHandler(logs, nil)), nil)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatalf("listen: %v", err)
			}
			release, held := make(chan struct{}), make(chan struct{}, 3)
			srv := &http.Server{
				ConnState: conns.ConnState,
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					held <- struct{}{}
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}),
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(conns.Listener(ln)) }()
			addr := ln.Addr().String()
			hold := func(ip string) {
				dialFrom(t, addr, ip).send(t, "/block")
				<-held // its request is being served: no connection to close for a new one
			}
			refuse := func(ip string) {
				c := dialFrom(t, addr, ip)
				c.send(t, "/")
				if resp, body := c.answer(t); resp.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("a connection from %s past a bound: %d %s; expected 503", ip, resp.StatusCode, body)
				}
			}
			hold("127.0.0.1")
			hold("127.0.0.2")
			refuse("127.0.0.1") // at the client's bound (1)
			refuse("127.0.0.1")
			hold("127.0.0.3")
			for _, ip := range []string{"127.0.0.4", "127.0.0.5", "127.0.0.6"} {
				refuse(ip) // at the server's bound (3)
			}
			if err := stop.stop(srv, release); err != nil {
				t.Fatalf("%s: %v", stop.name, err)
			}
			<-served
			got := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var entry struct {
					Msg     string `json:"msg"`
					Bound   string `json:"bound"`
					Refused int    `json:"refused"`
				}
				if json.Unmarshal([]byte(line), &entry) == nil && strings.HasPrefix(entry.Msg, "connections refused") {
					got[entry.Bound] += entry.Refused
				}
			}
			if want := map[string]int{"client": 2, "server": 3}; got["client"] != want["client"] || got["server"] != want["server"] {
				t.Fatalf("after %s, the log's refusals by bound: %v; expected every refusal logged, %v. The log:\n%s", stop.name, got, want, logs.String())
			}
		})
	}
}

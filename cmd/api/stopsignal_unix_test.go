//go:build unix

package main

import (
	"encoding/json"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheShutdownLineNamesTheSignal: every stop logged only
// {"msg":"shutting down","timeout_ms":…}, so an operator could not tell an
// orchestrator's SIGTERM from a closed terminal's SIGHUP when a restart was
// unexpected. The line now names the signal. A real signal to this
// process, caught by signals() as main catches it; not parallel, since
// signal delivery is the process's. The store does not matter: SQLite.
func TestTheShutdownLineNamesTheSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		name := map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT", syscall.SIGHUP: "SIGHUP"}[sig]
		t.Run(name, func(t *testing.T) {
			if sig == syscall.SIGHUP && signal.Ignored(syscall.SIGHUP) {
				t.Skip("SIGHUP is ignored (nohup): signals() leaves it so")
			}
			store := &closeRecorder{closableStore: teststore.SQLite.Open(t).(closableStore)}
			cfg := config.Defaults()
			cfg.Addr = "127.0.0.1:0"
			cfg.ShutdownTimeout = 10 * time.Second
			logs := &testlog.Buffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			stop, cut, release := signals()
			defer release()
			done := make(chan error, 1)
			go func() { done <- serve(stop, cut, cfg, nil, store, nil, log, metrics.New("test")) }()
			waitListening(t, logs)
			if err := syscall.Kill(os.Getpid(), sig); err != nil {
				t.Fatalf("send %s: %v", name, err)
			}
			if err := <-done; err != nil {
				t.Fatalf("a stop at %s: expected a clean stop, got %v", name, err)
			}
			var line struct {
				Signal string `json:"signal"`
			}
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, `"msg":"shutting down"`) {
					json.Unmarshal([]byte(l), &line) //nolint:errcheck // checked below
				}
			}
			if line.Signal != name {
				t.Fatalf("a stop at %s: the shutting down line's signal is %q; expected %q. The log:\n%s", name, line.Signal, name, logs.String())
			}
		})
	}
}

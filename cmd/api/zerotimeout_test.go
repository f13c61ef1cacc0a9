package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAZeroShutdownTimeoutStillClosesAnIdleStore: TRIBUTARY_SHUTDOWN_TIMEOUT
// may be 0s (no drain: what runs is cut at once), but then every stop, of
// a server with nothing running, gave the store's close no time: it failed
// ("the store did not close in time"), exit status 1, and the store was
// left as a crash leaves it, so that every start after it of the embedded
// store checked every page. The close gets a second at least, as it does
// at a start-up that fails: an idle server stops cleanly, exit status 0.
// On both stores.
func TestAZeroShutdownTimeoutStillClosesAnIdleStore(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &closeRecorder{closableStore: k.Open(t).(closableStore)}
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 0
		logs := &testlog.Buffer{}
		log := slog.New(slog.NewJSONHandler(logs, nil))
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		done := make(chan error, 1)
		go func() {
			done <- serveOn(ctx, context.Background(), cfg, serveHooks{}, nil, store, nil, log, metrics.New("test"))
		}()
		waitListening(t, logs)
		stop() // SIGTERM
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("SIGTERM to an idle server with %s=0s: %v; want a clean stop (exit status 0)", config.Var("ShutdownTimeout"), err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not return after SIGTERM")
		}
		if !store.closed.Load() {
			t.Errorf("SIGTERM to an idle server with %s=0s: the store was left open; want it closed", config.Var("ShutdownTimeout"))
		}
	})
}

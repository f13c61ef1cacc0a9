package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASignalBeforeListeningStopsWithoutTheShutdownDelay: a SIGTERM that
// came while the store opened, but too late for the open to see it, made the
// server listen anyway, say it was ready, and then serve the whole shutdown
// delay before it stopped, though no load balancer had ever been sent to it.
// A signal before listening now stops the start-up at once, as one while
// the database is awaited does: nothing listens, the store closes, exit 0. On both stores.
func TestASignalBeforeListeningStopsWithoutTheShutdownDelay(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &closeRecorder{closableStore: k.Open(t).(closableStore)}
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		// A shutdown delay far past the wait below: a start-up that served
		// it would not return within that wait, whatever the machine's load.
		cfg.ShutdownTimeout, cfg.ShutdownDelay = 20*time.Minute, 10*time.Minute
		var logs bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // the signal came during the start-up

		done := make(chan error, 1)
		go func() { done <- serve(ctx, context.Background(), cfg, nil, store, nil, log, metrics.New("test")) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("a signal before listening: expected a clean stop (exit 0), got %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("a signal before listening: serve did not return within 30 s; expected it at once, not after the shutdown delay (%s)", cfg.ShutdownDelay)
		}
		if out := logs.String(); strings.Contains(out, `"msg":"listening"`) || strings.Contains(out, "shutdown delay") {
			t.Errorf("a signal before listening: expected no listener and no shutdown delay, the log says:\n%s", out)
		}
		if !store.closed.Load() {
			t.Error("a signal before listening: expected the store closed, it was not")
		}
	})
}

// closeRecorder records that serve closed the store, which the test's
// cleanup then closes for real.
type closeRecorder struct {
	closableStore
	closed atomic.Bool
}

func (c *closeRecorder) Close() error {
	c.closed.Store(true)
	return nil
}

package main

import (
	"context"
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

// TestAStoreThatDoesNotCloseCannotHoldTheStopPastItsTimeout: after a drain
// that finished, the store was closed with no bound: a store whose close
// hung (a database that stopped answering as the process stopped) kept the
// process running past TRIBUTARY_SHUTDOWN_TIMEOUT, until the orchestrator
// killed it. The close now gets what is left of the timeout; past it the
// store is left as a crash leaves it, and the stop says so (exit status 1).
// On both stores.
func TestAStoreThatDoesNotCloseCannotHoldTheStopPastItsTimeout(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		hang := make(chan struct{})
		t.Cleanup(func() { close(hang) })
		store := &hangingClose{closableStore: k.Open(t).(closableStore), hang: hang}
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 2 * time.Second
		logs := &testlog.Buffer{}
		log := slog.New(slog.NewJSONHandler(logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- serve(ctx, context.Background(), cfg, nil, store, nil, log, metrics.New("test")) }()
		waitListening(t, logs)
		cancel() // SIGTERM
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "did not close in time") {
				t.Errorf("a store that did not close within the shutdown timeout: expected an error saying so (exit status 1), got %v", err)
			}
		case <-time.After(cfg.ShutdownTimeout + 30*time.Second): // a safety bound: the close never returns
			t.Fatalf("a store whose close hangs held the stop for more than %s past a shutdown timeout of %s", 30*time.Second, cfg.ShutdownTimeout)
		}
	})
}

// hangingClose is a store whose Close does not return until hang is closed.
type hangingClose struct {
	closableStore
	hang chan struct{}
}

func (h *hangingClose) Close() error {
	<-h.hang
	return nil
}

// TestAStoreThatDoesNotCloseCannotHoldAFailedStartUp: a start-up that
// failed after the store opened (its address taken, a signal just before
// it listened) closed the store with no bound, as the stop after a drain
// did before: a store whose close hung kept the process from exiting, its
// error unreported, until someone killed it. It now gets the shutdown
// timeout, then serve returns its error. On both stores.
func TestAStoreThatDoesNotCloseCannotHoldAFailedStartUp(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		hang := make(chan struct{})
		t.Cleanup(func() { close(hang) })
		store := &hangingClose{closableStore: k.Open(t).(closableStore), hang: hang}
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { taken.Close() })
		cfg := config.Defaults()
		cfg.Addr = taken.Addr().String()
		cfg.ShutdownTimeout = 2 * time.Second
		log := slog.New(slog.NewJSONHandler(&testlog.Buffer{}, nil))
		done := make(chan error, 1)
		go func() {
			done <- serve(context.Background(), context.Background(), cfg, nil, store, nil, log, metrics.New("test"))
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "listen on") {
				t.Errorf("an address already taken: expected the listen error, got %v", err)
			}
		case <-time.After(cfg.ShutdownTimeout + 30*time.Second): // a safety bound: the close never returns
			t.Fatalf("a store whose close hangs held a failed start-up for more than %s past a shutdown timeout of %s", 30*time.Second, cfg.ShutdownTimeout)
		}
	})
}

// TestAStoreThatDoesNotCloseCannotHoldAMigration: `api migrate` closed the
// store once the schema was up to date with no bound, as serve's stop did
// before: a store whose close hung (a database that stopped answering just
// then) kept the migration job from exiting, until someone killed it. The
// close now gets the shutdown timeout (at least a second), as a failed
// start-up's does, and the command then fails saying so, and that the
// schema is up to date. On both stores.
func TestAStoreThatDoesNotCloseCannotHoldAMigration(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		hang := make(chan struct{})
		t.Cleanup(func() { close(hang) })
		store := &hangingClose{closableStore: k.Open(t).(closableStore), hang: hang}
		cfg := config.Defaults()
		cfg.ShutdownTimeout = 2 * time.Second
		done := make(chan error, 1)
		go func() { done <- closeMigrated(cfg, store) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "did not close in time") || !strings.Contains(err.Error(), "schema is up to date") {
				t.Errorf("a store that did not close within the shutdown timeout after migrating: expected an error saying so, and that the schema is up to date, got %v", err)
			}
		case <-time.After(cfg.ShutdownTimeout + 30*time.Second): // a safety bound: the close never returns
			t.Fatalf("a store whose close hangs held the migration for more than %s past a shutdown timeout of %s", 30*time.Second, cfg.ShutdownTimeout)
		}
	})
}

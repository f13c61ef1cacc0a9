package main

import (
	"context"
	"errors"
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
	hang    chan struct{}
	closing chan struct{} // closed as Close is called (nil: not told)
}

// openHangingClose opens a store of kind k whose Close closes its closing
// channel and then hangs until the test ends.
func openHangingClose(t *testing.T, k teststore.Kind) *hangingClose {
	t.Helper()
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	return &hangingClose{closableStore: k.Open(t).(closableStore), hang: hang, closing: make(chan struct{})}
}

func (h *hangingClose) Close() error {
	if h.closing != nil {
		close(h.closing)
	}
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
		go func() { done <- closeMigrated(context.Background(), cfg, store, slog.New(slog.DiscardHandler)) }()
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

// TestASecondSignalCutsTheWaitForAStoreThatDoesNotClose: a drain that
// finished left the store's close the rest of the shutdown timeout, and a
// second signal during that wait (a store whose close hangs, a database
// that stopped answering just then) changed nothing: the operator who
// pressed Ctrl-C again waited the whole timeout. It now gives the close at
// most a second more, logs that a second signal cut it, and the stop says
// the store did not close (exit status 1). On both stores.
func TestASecondSignalCutsTheWaitForAStoreThatDoesNotClose(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := openHangingClose(t, k)
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 20 * time.Minute // far past the wait below: only the second signal ends this stop
		logs := &testlog.Buffer{}
		log := slog.New(slog.NewJSONHandler(logs, nil))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cutCtx, cut := context.WithCancel(context.Background())
		defer cut()
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cutCtx, cfg, nil, store, nil, log, metrics.New("test")) }()
		waitListening(t, logs)
		cancel() // SIGTERM
		select {
		case <-store.closing:
		case err := <-done:
			t.Fatalf("serve returned (%v) before it closed the store", err)
		case <-time.After(time.Minute): // a hang guard
			t.Fatal("serve did not close the store within a minute of its signal, the drain having nothing to wait for")
		}
		cut() // the second signal, while the close hangs
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "did not close") || !strings.Contains(err.Error(), "second signal") {
				t.Errorf("a second signal while the store's close hung: expected an error saying the store did not close, cut by a second signal, got %v", err)
			}
		case <-time.After(2 * time.Minute): // a hang guard, far below the timeout
			t.Fatalf("a second signal while the store's close hung did not end the stop; it would wait out the shutdown timeout (%s)", cfg.ShutdownTimeout)
		}
		if !strings.Contains(logs.String(), "second signal") {
			t.Errorf("a second signal while the store's close hung: expected a log line saying so; the log:\n%s", logs.String())
		}
	})
}

// TestASecondSignalCutsAMigrationsWaitForAStoreThatDoesNotClose: `api
// migrate`'s close of the store once the schema was up to date ignored
// signals: with a close that hangs (a database that stopped answering just
// then), an operator who pressed Ctrl-C twice waited the whole shutdown
// timeout (a review, F6). A second signal now gives the close at most a
// second more, as serve's stop does, logs so, and the command fails saying
// the store did not close, cut by a second signal, the schema being up to
// date. On both stores.
func TestASecondSignalCutsAMigrationsWaitForAStoreThatDoesNotClose(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := openHangingClose(t, k)
		cfg := config.Defaults()
		cfg.ShutdownTimeout = 20 * time.Minute // far past the wait below: only the second signal ends this close
		logs := &testlog.Buffer{}
		cutCtx, cut := context.WithCancel(context.Background())
		defer cut()
		done := make(chan error, 1)
		go func() { done <- closeMigrated(cutCtx, cfg, store, slog.New(slog.NewJSONHandler(logs, nil))) }()
		select {
		case <-store.closing:
		case <-time.After(time.Minute): // a hang guard
			t.Fatal("closeMigrated did not close the store within a minute")
		}
		cut() // the second signal, while the close hangs
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "did not close") || !strings.Contains(err.Error(), "second signal") || !strings.Contains(err.Error(), "schema is up to date") {
				t.Errorf("a second signal while the migrated store's close hung: expected an error saying the schema is up to date but the store did not close, cut by a second signal, got %v", err)
			}
		case <-time.After(2 * time.Minute): // a hang guard, far below the timeout
			t.Fatalf("a second signal while the migrated store's close hung did not end it; it would wait out the shutdown timeout (%s)", cfg.ShutdownTimeout)
		}
		if !strings.Contains(logs.String(), "second signal") {
			t.Errorf("a second signal while the migrated store's close hung: expected a log line saying so; the log:\n%s", logs.String())
		}
	})
}

// TestAMigrationWhoseStoreFailsToCloseSaysSo: the embedded store logged a
// close that failed (the WAL left beside the file on a full disk) itself,
// as a WARN, and `api migrate` dropped its error; a stop wrote it twice, the
// WARN and stderr. The store now logs nothing of it, so `api migrate` must
// fail with it, once. On both stores.
func TestAMigrationWhoseStoreFailsToCloseSaysSo(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		err := closeMigrated(context.Background(), config.Defaults(), &failingClose{closableStore: k.Open(t).(closableStore)}, slog.New(slog.DiscardHandler))
		if !errors.Is(err, errCloseFailed) || !strings.Contains(err.Error(), "schema is up to date") {
			t.Errorf("a store whose close failed after migrating: expected an error carrying the close's, and that the schema is up to date, got %v", err)
		}
	})
}

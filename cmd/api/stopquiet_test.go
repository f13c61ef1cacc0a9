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

// TestAStartOnAnAddressInUseLogsNoLiveFeedWarning: the live feed started
// before the server listened, and a start on an address already in use
// stopped it as it read the log's head: its WARN "live feed: cannot read
// the log head" (context canceled) came before the real error, sending an
// operator after the database. The feed now starts once the server
// listens. On both stores.
func TestAStartOnAnAddressInUseLogsNoLiveFeedWarning(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { taken.Close() })
		cfg := config.Defaults()
		cfg.Addr = taken.Addr().String()
		// Closed by the test's cleanup. Tried a few times: the feed's first
		// read raced the failed listen.
		store := &closedByTest{closableStore: k.Open(t).(closableStore)}
		for range 5 {
			logs := &testlog.Buffer{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			err := serve(context.Background(), context.Background(), cfg, nil, store, nil, log, metrics.New("test"))
			if err == nil || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("a start on an address in use: expected the listen error, got %v", err)
			}
			if strings.Contains(logs.String(), "live feed") {
				t.Fatalf("a start on an address in use logged of the live feed; the log says:\n%s", logs.String())
			}
		}
	})
}

// TestAStoreWhoseCloseFailsFailsTheStop: the store's Close error was
// discarded, and a stop whose close failed (the embedded store's clean-stop
// record not written, so the next start checks every page; a connection
// pool that could not close) exited 0 saying "stopped". The stop now
// logs the error, returns it (exit status 1) and does not say it
// stopped cleanly. On both stores.
func TestAStoreWhoseCloseFailsFailsTheStop(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &failingClose{closableStore: k.Open(t).(closableStore)}
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 5 * time.Second
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
			if !errors.Is(err, errCloseFailed) {
				t.Errorf("a stop whose store failed to close: expected its error (exit status 1), got %v", err)
			}
			if !strings.Contains(logs.String(), `"level":"ERROR","msg":"the store did not close cleanly","error":"close failed (test)"`) {
				t.Errorf("a stop whose store failed to close: expected an ERROR saying so in the log, got:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), `"msg":"stopped"`) {
				t.Errorf("a stop whose store failed to close logged a clean stop:\n%s", logs.String())
			}
		case <-time.After(time.Minute):
			t.Fatal("the stop did not end")
		}
	})
}

var errCloseFailed = errors.New("close failed (test)")

// failingClose is a store whose Close fails; the test's cleanup closes it.
type failingClose struct{ closableStore }

func (f *failingClose) Close() error { return errCloseFailed }

// closedByTest is a store whose Close does nothing; the test's cleanup closes it.
type closedByTest struct{ closableStore }

func (c *closedByTest) Close() error { return nil }

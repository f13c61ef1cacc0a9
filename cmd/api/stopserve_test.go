package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// servedToStop is store served as the binary serves it (serveOn), for the
// tests of the stop: addr is where it listens, stop begins the stop (a
// SIGTERM), done gives serveOn's result, logs what it logged.
type servedToStop struct {
	addr, base string
	logs       *testlog.Buffer
	stop       context.CancelFunc
	done       chan error
}

// serveToStop serves store with the stop's and a request's timeouts, cut
// (a second signal) by cut, and waits until it listens.
func serveToStop(t *testing.T, store closableStore, cut context.Context, shutdown, request time.Duration) *servedToStop {
	t.Helper()
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout, cfg.RequestTimeout = shutdown, request
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	var addr atomic.Value
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	done := make(chan error, 1)
	go func() {
		done <- serveOn(ctx, cut, cfg, serveHooks{listen: listenRecording(&addr)}, nil, store, nil, log, metrics.New("test"))
	}()
	waitListening(t, logs)
	a := addr.Load().(string)
	return &servedToStop{addr: a, base: "http://" + a, logs: logs, stop: stop, done: done}
}

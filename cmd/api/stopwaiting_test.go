package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheDrainDoesNotWaitForConnectionsThatSentNoWholeRequest: at SIGTERM,
// a connection that had sent nothing (a browser's speculative one, a TCP
// probe) or only part of its first request's headers held the drain until
// net/http took it for idle, once 5 s old: an idle server took 5 s to stop
// where it took 0.05 s without one, and a stop timeout under 5 s ran out.
// They are closed as the drain begins; a request sent whole before it is
// still answered. The stop's timeout here (3 s: its drain 2.4 s) is shorter
// than net/http's 5 s, so the drain finishes only if they are closed: the
// test asserts that it did (Shutdown returned nil), not a time.
func TestTheDrainDoesNotWaitForConnectionsThatSentNoWholeRequest(t *testing.T) {
	t.Parallel()
	store := &heldStream{closableStore: teststore.SQLite.Open(t).(closableStore), entered: make(chan struct{}), release: make(chan struct{})}
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 3 * time.Second
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	var addr atomic.Value
	shutdownReturned := make(chan error, 1)
	hooks := serveHooks{
		listen: listenRecording(&addr),
		drain: func(parent context.Context, ends time.Time) (context.Context, context.CancelFunc) {
			close(store.release) // the whole request goes on as the drain begins
			return context.WithDeadline(parent, ends)
		},
		shutdown: func(err error) { shutdownReturned <- err },
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- serveOn(ctx, context.Background(), cfg, hooks, nil, store, nil, log, metrics.New("test"))
	}()
	waitListening(t, logs)
	dial := func() net.Conn {
		t.Helper()
		conn, err := net.Dial("tcp", addr.Load().(string))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		// A guard against a hang only.
		conn.SetReadDeadline(time.Now().Add(time.Minute)) //nolint:errcheck // a failed set fails the read
		return conn
	}
	silent, heading, whole := dial(), dial(), dial()
	if _, err := io.WriteString(heading, "GET /healthz HTTP/1.1\r\nHost: tributary\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(whole, "GET /streams/%s HTTP/1.1\r\nHost: tributary\r\n\r\n", uuid.NewString()); err != nil {
		t.Fatal(err)
	}
	// Accepted after the other two: they are the server's too.
	select {
	case <-store.entered:
	case <-time.After(time.Minute):
		t.Fatal("the whole request never reached the store")
	}
	stop() // SIGTERM

	for name, conn := range map[string]net.Conn{"silent": silent, "in its headers": heading} {
		// Closed with what it sent unread, it may be reset rather than ended.
		if n, err := conn.Read(make([]byte, 1)); n != 0 || err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("the connection %s at SIGTERM: read %d bytes, %v; want it closed by the server, unanswered (EOF or a reset)", name, n, err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(whole), nil)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the request sent whole before SIGTERM: %v, %v; want its 404, drained as before", resp, err)
	}
	resp.Body.Close()
	if err := <-done; err != nil {
		t.Fatalf("the stop: %v; want a clean one", err)
	}
	if err := <-shutdownReturned; err != nil {
		t.Errorf("the drain, with no request running once the whole one was answered, ended by its timeout (%v, %s %s): it waited for the connections that had sent no whole request; want it over as they are closed at its start",
			err, config.Var("ShutdownTimeout"), cfg.ShutdownTimeout)
	}
}

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// heldAccept is a listener whose Accept, once hold is set, keeps the next
// connection it accepts until release is closed.
type heldAccept struct {
	net.Listener
	hold    atomic.Bool
	held    chan struct{} // closed once it holds one
	release chan struct{}
}

func (l *heldAccept) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err == nil && l.hold.CompareAndSwap(true, false) {
		close(l.held)
		<-l.release
	}
	return conn, err
}

// TestAConnectionAcceptedAsTheDrainBeginsIsClosedAtOnce: at SIGTERM,
// Shutdown closes the listener and closes the connections that have sent
// no whole request (CloseWaiting) on a goroutine of its own, while the
// server's accept loop may still hand on a connection it accepted just
// before: net/http says it is new only after, and, found on no list, it
// held the drain until net/http took it for idle, once 5 s old (a stop
// timeout under 5 s ran out). The test holds one such connection in
// Accept until CloseWaiting has run, as the real shutdown path orders it
// at worst; the stop's timeout (3 s: its drain 2.4 s) is shorter than
// net/http's 5 s, so the drain finishes only if it is closed at once: the
// test asserts that it did (Shutdown returned nil), not a time.
func TestAConnectionAcceptedAsTheDrainBeginsIsClosedAtOnce(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 3 * time.Second
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ln := &heldAccept{held: make(chan struct{}), release: make(chan struct{})}
	var addr atomic.Value
	var late net.Conn
	var releaseOnce sync.Once
	shutdownReturned := make(chan error, 1)
	hooks := serveHooks{
		listen: func(network, a string) (net.Listener, error) {
			inner, err := listenRecording(&addr)(network, a)
			ln.Listener = inner
			return ln, err
		},
		drain: func(parent context.Context, ends time.Time) (context.Context, context.CancelFunc) {
			// Accepted as the drain begins, told new to net/http only
			// once CloseWaiting has run.
			ln.hold.Store(true)
			var err error
			if late, err = net.Dial("tcp", addr.Load().(string)); err != nil {
				t.Error(err)
				ln.hold.Store(false)
				releaseOnce.Do(func() { close(ln.release) })
			} else {
				<-ln.held
			}
			return context.WithDeadline(parent, ends)
		},
		closedWaiting: func() { releaseOnce.Do(func() { close(ln.release) }) },
		shutdown:      func(err error) { shutdownReturned <- err },
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- serveOn(ctx, context.Background(), cfg, hooks, nil, teststore.SQLite.Open(t).(closableStore), nil, log, metrics.New("test"))
	}()
	waitListening(t, logs)
	stop() // SIGTERM
	if err := <-done; err != nil {
		t.Fatalf("the stop: %v; want a clean one", err)
	}
	if late == nil {
		t.FailNow()
	}
	defer late.Close()
	if err := <-shutdownReturned; err != nil {
		t.Errorf("the drain ended by its timeout (%v, %s %s): it waited for the connection accepted as it began; want it closed at once",
			err, config.Var("ShutdownTimeout"), cfg.ShutdownTimeout)
	}
	late.SetReadDeadline(time.Now().Add(time.Minute)) //nolint:errcheck // a guard against a hang only
	if n, err := late.Read(make([]byte, 1)); n != 0 || err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the connection accepted as the drain began: read %d bytes, %v; want it closed by the server, unanswered", n, err)
	}
}

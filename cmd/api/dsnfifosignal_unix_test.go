//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestASignalWhileADSNFileFIFOIsAwaitedStopsTheStart: a DSN file that is a
// FIFO nobody writes held the start until TRIBUTARY_STARTUP_TIMEOUT, deaf
// to SIGTERM, saying nothing. It now stops at the signal as a tokens file
// FIFO does: a "stopped" line naming the signal, exit 0.
func TestASignalWhileADSNFileFIFOIsAwaitedStopsTheStart(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "dsn")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() { // a read still blocked in the open is let go
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	t.Setenv("TRIBUTARY_MYSQL_DSN_FILE", fifo)
	// Far past any test's run: a start that waits it out is the defect.
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "1h")
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stopSignal{syscall.SIGTERM})
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, context.Background(), []string{"serve"}, &out) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("SIGTERM while a DSN file FIFO is awaited: expected a clean stop (exit 0), got %v", err)
		}
	case <-time.After(time.Minute): // a hang guard, not a bound under test
		t.Fatal("SIGTERM while a DSN file FIFO is awaited: run still waits after a minute; expected it to stop at the signal")
	}
	// Said while it waits: a start that says nothing for 30 s looks hung.
	if s := out.String(); !strings.Contains(s, `"msg":"waiting for a DSN file that is no regular file (a FIFO?) to be written and closed","setting":"TRIBUTARY_MYSQL_DSN_FILE"`) {
		t.Errorf("a DSN file FIFO awaited: expected a line saying so, naming the setting, the log says:\n%s", s)
	}
	if s := out.String(); !strings.Contains(s, `"msg":"stopped"`) || !strings.Contains(s, `"signal":"SIGTERM"`) {
		t.Errorf("SIGTERM while a DSN file FIFO is awaited: expected a stopped line naming SIGTERM, the log says:\n%s", s)
	}
}

// TestHealthcheckReadsOnlyTheAddress: `api healthcheck` ran the whole
// configuration's load, DSN files included: a DSN file gone (a secret
// unmounted) failed the probe of a ready server without asking it, and a
// FIFO held it for TRIBUTARY_STARTUP_TIMEOUT, past Docker's 5 s. It reads
// TRIBUTARY_ADDR alone.
func TestHealthcheckReadsOnlyTheAddress(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"ready"}`))
	}))
	t.Cleanup(s.Close)
	_, port, err := net.SplitHostPort(s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:"+port)
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "1h")
	for _, file := range []string{filepath.Join(dir, "gone"), fifo} {
		t.Setenv("TRIBUTARY_MYSQL_DSN_FILE", file)
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- run(context.Background(), context.Background(), []string{"healthcheck"}, &out) }()
		select {
		case err := <-done:
			if err != nil || !strings.Contains(out.String(), "ready: GET") {
				t.Errorf("healthcheck of a ready server, TRIBUTARY_MYSQL_DSN_FILE=%s: expected it ready; got %v, %q", filepath.Base(file), err, out.String())
			}
		case <-time.After(time.Minute): // a hang guard
			t.Fatalf("healthcheck, TRIBUTARY_MYSQL_DSN_FILE=%s: still waiting after a minute; expected it to ask the server only", filepath.Base(file))
		}
	}
}

// TestASignalWhileADSNFileFIFOIsAwaitedStopsAVerify: `api verify` loaded
// the configuration deaf to the signal too, a DSN file FIFO holding it
// until TRIBUTARY_STARTUP_TIMEOUT. It stops at the signal, failing (it
// verified nothing).
func TestASignalWhileADSNFileFIFOIsAwaitedStopsAVerify(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "dsn")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	t.Cleanup(func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	t.Setenv("TRIBUTARY_MYSQL_DSN_FILE", fifo)
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "1h")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stopSignal{syscall.SIGTERM})
	done := make(chan error, 1)
	go func() { done <- run(ctx, context.Background(), []string{"verify"}, &bytes.Buffer{}) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("SIGTERM while verify awaits a DSN file FIFO: expected an error of the stop, got %v", err)
		}
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("SIGTERM while verify awaits a DSN file FIFO: still waiting after a minute")
	}
}

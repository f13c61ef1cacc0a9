//go:build unix

package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
)

// fifo makes a named pipe in a directory of the test's own.
func fifo(t *testing.T) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "tokens")
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return name
}

// whenReading returns the FIFO name opened for writing once a reader has
// it open (or waits in its open): a writer's open that does not wait
// fails (ENXIO) until then. It fails the test past a hang guard.
func whenReading(t *testing.T, name string) *os.File {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		w, err := os.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return w
		}
		if !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) {
			t.Errorf("open %s for writing once a reader waits on it: %v", name, err)
			return nil
		}
	}
}

// loadTokensWithin runs loadTokens on a tokens file, failing the test if it
// has not returned after within: a safety bound against a hang, far past
// the bound under test, never the thing that decides.
func loadTokensWithin(t *testing.T, ctx context.Context, cfg config.Config, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := loadTokens(ctx, cfg, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("loadTokens of %s: still reading after %s", cfg.APITokensFile, within)
		return nil
	}
}

// TestATokensFileThatNeverEndsIsBoundedByTheStartUpTimeout: a tokens file
// that is a FIFO nobody writes, or a pipe whose writer never closes it,
// hung the start-up for ever, deaf to SIGTERM. Its read is bounded by
// TRIBUTARY_STARTUP_TIMEOUT and by the signal; a FIFO a secret manager fills
// and closes is read as a file is.
func TestATokensFileThatNeverEndsIsBoundedByTheStartUpTimeout(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.StartupTimeout = 500 * time.Millisecond

	t.Run("nobody writes", func(t *testing.T) {
		t.Parallel()
		cfg := cfg
		cfg.APITokensFile = fifo(t)
		err := loadTokensWithin(t, context.Background(), cfg, 30*time.Second)
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_API_TOKENS_FILE") || !strings.Contains(err.Error(), "TRIBUTARY_STARTUP_TIMEOUT") {
			t.Fatalf("a FIFO nobody writes: expected an error naming TRIBUTARY_API_TOKENS_FILE and TRIBUTARY_STARTUP_TIMEOUT, got %v", err)
		}
		if strings.Contains(err.Error(), cfg.APITokensFile) {
			t.Errorf("the error quotes the file's name: %v", err)
		}
	})
	t.Run("a writer that never closes", func(t *testing.T) {
		t.Parallel()
		cfg := cfg
		cfg.APITokensFile = fifo(t)
		// The writer closes only once the test is over: never while the
		// read waits, however slow the machine.
		over := make(chan struct{})
		t.Cleanup(func() { close(over) })
		go func() {
			w, err := os.OpenFile(cfg.APITokensFile, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			w.WriteString("app:write:0123456789abcdef0123\n") //nolint:errcheck
			<-over
			w.Close()
		}()
		err := loadTokensWithin(t, context.Background(), cfg, 30*time.Second)
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_STARTUP_TIMEOUT") {
			t.Fatalf("a pipe that never ends: expected an error naming TRIBUTARY_STARTUP_TIMEOUT, got %v", err)
		}
	})
	t.Run("a signal", func(t *testing.T) {
		t.Parallel()
		cfg := cfg
		cfg.StartupTimeout = time.Minute
		cfg.APITokensFile = fifo(t)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			// The signal once the read waits on the FIFO, not at a time: a
			// signal before it would end the start-up all the same, and
			// prove nothing of the wait. The writer writes nothing and
			// stays open until the test is over.
			w := whenReading(t, cfg.APITokensFile)
			t.Cleanup(func() { w.Close() })
			cancel()
		}()
		if err := loadTokensWithin(t, ctx, cfg, 30*time.Second); !errors.Is(err, context.Canceled) {
			t.Fatalf("a FIFO nobody writes to, and a signal: expected context.Canceled, got %v", err)
		}
	})
	t.Run("a secret manager", func(t *testing.T) {
		t.Parallel()
		cfg := cfg
		cfg.StartupTimeout = time.Minute // not what ends the read: the writer's close is
		cfg.APITokensFile = fifo(t)
		go func() {
			// Written once the read waits on the FIFO (whenReading).
			w := whenReading(t, cfg.APITokensFile)
			w.WriteString("app:write:0123456789abcdef0123\n") //nolint:errcheck
			w.Close()
		}()
		tokens, err := loadTokens(context.Background(), cfg, nil)
		if err != nil || len(tokens) != 1 {
			t.Fatalf("a FIFO filled and closed: expected its one token, got %d, %v", len(tokens), err)
		}
	})
}

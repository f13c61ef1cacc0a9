//go:build unix

package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestATokensFileFIFOAwaitedAtStartIsLogged: a tokens file that is a FIFO
// nobody had written yet was waited for without a word: an operator saw
// "starting" and nothing until TRIBUTARY_STARTUP_TIMEOUT. The wait is said
// once as it begins, naming the setting and the timeout (as a DSN file's
// is), and its end: the timeout's, naming it, or a signal's stop.
func TestATokensFileFIFOAwaitedAtStartIsLogged(t *testing.T) {
	const waiting = `"msg":"waiting for a tokens file that is no regular file (a FIFO?) to be written and closed","setting":"TRIBUTARY_API_TOKENS_FILE"`
	start := func(t *testing.T, ctx context.Context, name, timeout string) (string, error) {
		t.Helper()
		t.Setenv("TRIBUTARY_API_TOKENS_FILE", name)
		t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", timeout)
		t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
		t.Setenv("TRIBUTARY_DATA_DIR", t.TempDir())
		var logs testlog.Buffer
		done := make(chan error, 1)
		go func() { done <- run(ctx, context.Background(), []string{"serve"}, &logs) }()
		select {
		case err := <-done:
			return logs.String(), err
		case <-time.After(time.Minute): // a hang guard, not a bound under test
			t.Fatalf("a tokens file FIFO nobody writes: the start still waits after a minute:\n%s", logs.String())
			return "", nil
		}
	}
	t.Run("the timeout", func(t *testing.T) {
		out, err := start(t, context.Background(), fifo(t), "1s")
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_STARTUP_TIMEOUT") {
			t.Errorf("a tokens file FIFO nobody writes: expected the start to fail naming TRIBUTARY_STARTUP_TIMEOUT, got %v", err)
		}
		if n := strings.Count(out, waiting); n != 1 || !strings.Contains(out, waiting+`,"timeout_ms":1000`) {
			t.Errorf("expected one line saying what the start waits for, naming the setting and the timeout, got %d:\n%s", n, out)
		}
		if !strings.Contains(out, `"level":"ERROR","msg":"stopped"`) || !strings.Contains(out, "TRIBUTARY_STARTUP_TIMEOUT") {
			t.Errorf("expected an ERROR line saying the wait gave up at TRIBUTARY_STARTUP_TIMEOUT:\n%s", out)
		}
	})
	t.Run("a signal", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		name := fifo(t)
		go func() {
			// The signal once the start waits on the FIFO.
			w := whenReading(t, name)
			t.Cleanup(func() { w.Close() })
			cancel(stopSignal{syscall.SIGTERM})
		}()
		out, err := start(t, ctx, name, "1h")
		if err != nil {
			t.Errorf("SIGTERM while a tokens file FIFO is awaited: expected a clean stop, got %v", err)
		}
		if n := strings.Count(out, waiting); n != 1 {
			t.Errorf("expected one line saying what the start waits for, got %d:\n%s", n, out)
		}
		if !strings.Contains(out, `"msg":"stopped"`) || !strings.Contains(out, `"signal":"SIGTERM"`) {
			t.Errorf("expected a stopped line naming SIGTERM:\n%s", out)
		}
	})
}

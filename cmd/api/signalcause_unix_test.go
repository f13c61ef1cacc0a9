//go:build unix

package main

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
)

// TestASignalsCauseIsStillACancel: signals() ends its contexts with the
// signal as their cause (for the stop's lines), and code that returns a
// context's cause (the tokens FIFO's wait) then returned an error that was
// no longer context.Canceled: a caller checking errors.Is(err,
// context.Canceled), as loadTokens' contract and its test say a signal
// gives, saw an unknown error. The cause is a cancel still, naming the
// signal. The store does not matter: none is opened.
func TestASignalsCauseIsStillACancel(t *testing.T) {
	t.Parallel()
	if cause := (stopSignal{syscall.SIGTERM}); !errors.Is(cause, context.Canceled) {
		t.Errorf("signals()' cause %v: errors.Is(…, context.Canceled) false; expected true", cause)
	}
	cfg := config.Defaults()
	cfg.StartupTimeout = time.Minute
	cfg.APITokensFile = fifo(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		// The signal once the read waits on the FIFO (whenReading).
		w := whenReading(t, cfg.APITokensFile)
		t.Cleanup(func() { w.Close() })
		cancel(stopSignal{syscall.SIGTERM}) // as signals() does
	}()
	err := loadTokensWithin(t, ctx, cfg, 30*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a FIFO nobody writes to, and a SIGTERM caught by signals(): expected context.Canceled, got %v", err)
	}
}

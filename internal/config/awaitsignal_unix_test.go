//go:build unix

package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestAwaitFileStopsAtASignalThatCameWithTheFile: AwaitFile chose at
// random between a FIFO read that had returned and a signal that had
// ended ctx, so a SIGTERM during the start let it go on about half the
// times the file came at that moment. A signal stops the start whatever
// the read did: AwaitFile returns the stop's error, wrapping its cause,
// every time.
func TestAwaitFileStopsAtASignalThatCameWithTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stop := errors.New("received SIGTERM")
	for i := range 200 {
		name := filepath.Join(dir, fmt.Sprintf("dsn%d", i))
		if err := syscall.Mkfifo(name, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		// The FIFO holds what a secret manager wrote: its writer's end is
		// the test's until the read has it open, then closed, so the read
		// returns at once.
		w, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteString("app:pw@tcp(db:3306)/x\n"); err != nil {
			t.Fatal(err)
		}
		read := func() ([]byte, error) {
			r, err := os.Open(name)
			w.Close()
			if err != nil {
				return nil, err
			}
			defer r.Close()
			return io.ReadAll(r)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(stop) // the signal, with the file
		b, err := AwaitFile(ctx, time.Hour, read)
		if !errors.Is(err, stop) || !errors.Is(err, ErrNotWritten) || b != nil {
			t.Fatalf("try %d: a signal with the file: expected the stop's error, wrapping its cause, and nothing read; got %q, %v", i, b, err)
		}
	}
}

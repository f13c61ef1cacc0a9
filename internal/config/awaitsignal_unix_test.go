//go:build unix

package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// TestASecondDSNFileFIFOIsNotAwaitedOnceTheStartFails: the primary's and
// the read replica's DSN files, both FIFOs nobody writes, were awaited one
// after the other, TRIBUTARY_STARTUP_TIMEOUT each: a start already bound
// to fail waited twice as long as the variable says, and said a second
// wait; after a SIGTERM it said a wait it did not make. Once one file's
// read has failed, a file still to be awaited is not.
func TestASecondDSNFileFIFOIsNotAwaitedOnceTheStartFails(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []string{"TRIBUTARY_MYSQL_DSN_FILE", "TRIBUTARY_MYSQL_READ_DSN_FILE"} {
		name := filepath.Join(dir, v)
		if err := syscall.Mkfifo(name, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		t.Cleanup(func() { // a read still blocked in the open is let go
			if w, err := os.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		})
		t.Setenv(v, name)
	}
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "1s")
	for _, tc := range []struct {
		name string
		ctx  func() context.Context
	}{
		{"the timeout", context.Background},
		{"a signal", func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}},
	} {
		var awaited []string
		_, err := LoadContext(tc.ctx(), func(setting string, _ time.Duration) { awaited = append(awaited, setting) })
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_MYSQL_DSN_FILE") {
			t.Errorf("%s: two DSN file FIFOs nobody writes: expected the start to fail naming TRIBUTARY_MYSQL_DSN_FILE, got %v", tc.name, err)
		}
		if len(awaited) != 1 || awaited[0] != "TRIBUTARY_MYSQL_DSN_FILE" {
			t.Errorf("%s: two DSN file FIFOs nobody writes: expected the first awaited alone, got %q", tc.name, awaited)
		}
	}
}

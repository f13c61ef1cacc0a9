//go:build unix

package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestATokensFileSwappedForAFIFOAtStartUpDoesNotHangIt: start-up looked at
// the tokens file (Stat), and read one found regular by opening it: a FIFO
// swapped in between (a secret manager's, a mistaken mount) blocked the
// open for good, deaf to TRIBUTARY_STARTUP_TIMEOUT and to SIGTERM. The look
// swaps a FIFO in at that very moment: the read opens without waiting (as
// the watch's does), sees a FIFO, and gives it the start-up timeout, as a
// FIFO found by the look gets.
func TestATokensFileSwappedForAFIFOAtStartUpDoesNotHangIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	if err := os.WriteFile(path, []byte("app:write:0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	swapped := false
	statThenSwap := func(name string) (fs.FileInfo, error) {
		fi, err := os.Stat(name)
		if rerr := os.Rename(fifo, path); rerr != nil {
			t.Error(rerr)
		}
		swapped = true
		return fi, err
	}
	done := make(chan error, 1)
	go func() {
		_, err := readTokensFile(context.Background(), path, 500*time.Millisecond, statThenSwap, nil)
		done <- err
	}()
	t.Cleanup(func() {
		// A read blocked in the FIFO's open (the defect) is let go: a
		// writer opens it.
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	select {
	case err := <-done:
		if !swapped {
			t.Fatal("the FIFO was never swapped in: the test did not reach its case")
		}
		if err == nil || !strings.Contains(err.Error(), "TRIBUTARY_STARTUP_TIMEOUT") {
			t.Fatalf("a FIFO swapped in after the look, nobody writing it: expected an error naming TRIBUTARY_STARTUP_TIMEOUT, got %v", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, far past the 500 ms under test
		t.Fatal("the read of a tokens file swapped for a FIFO after the look still waits after 30 s: it hangs the start-up")
	}
}

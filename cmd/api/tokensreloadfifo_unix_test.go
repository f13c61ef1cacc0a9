//go:build unix

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestATokensFileSwappedForAFIFOMidCheckDoesNotStopTheWatch: the watch
// checked the file was a regular one, then opened it: a FIFO swapped in
// between blocked the open, and the watch with it, for good (no later
// change applied). The read swaps a FIFO in at that very moment; the
// watch skips it, and a regular file put back is applied.
func TestATokensFileSwappedForAFIFOMidCheckDoesNotStopTheWatch(t *testing.T) {
	t.Parallel()
	const a, b = "aaaa-0123456789abcdef", "bbbb-0123456789abcdef"
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	if err := os.WriteFile(path, []byte("alice:read:"+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, access := tokensFileInForce(t, path)
	kept := filepath.Join(dir, "fifo-kept") // the FIFO, once a file is back in its place
	var once sync.Once
	swapped := make(chan struct{})
	read := func(name string) ([]byte, error) {
		once.Do(func() {
			// After the watch's look at the file, before its open.
			fifo := filepath.Join(dir, "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Error(err)
			}
			if err := os.Link(fifo, kept); err != nil {
				t.Error(err)
			}
			if err := os.Rename(fifo, path); err != nil {
				t.Error(err)
			}
			close(swapped)
		})
		return readTokensFileNow(name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchTokensFile(ctx, cfg, access, 10*time.Millisecond, read, newLogger(&testlog.Buffer{}, nil), nil)
	}()
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{Access: access}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		// A watch blocked on the FIFO (the defect) is let go: a writer opens it.
		if w, err := os.OpenFile(kept, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		<-done
	})
	<-swapped
	replaceFile(t, path, "bobby:read:"+b+"\n")
	waitFor(t, "the token of the regular file put back in place of the FIFO let in", func() bool { return statusOf(t, srv, b) == http.StatusOK })
}

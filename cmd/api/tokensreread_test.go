package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheTokensAppliedAreThoseReadTheSameTwice: the watch compared the
// file's bytes at two checks, then read the file a third time to apply
// it. A writer that rewrote the file in place right after the second
// check (truncated, its first line written) had that half applied, the
// tokens of its last lines refused (401), and, the file complete again
// being the content the watch took for applied, never mended until the
// next change or a restart. What is applied is the content read the same
// twice.
func TestTheTokensAppliedAreThoseReadTheSameTwice(t *testing.T) {
	t.Parallel()
	const c, a, b = "cccc-0123456789abcdef", "aaaa-0123456789abcdef", "bbbb-0123456789abcdef"
	whole := "alice:read:" + a + "\nbobby:read:" + b + "\n"
	half := "alice:read:" + a + "\n"
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("carol:read:"+c+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, access := tokensFileInForce(t, path)
	logs := &testlog.Buffer{}
	// The writer: once the watch has read the whole new content at two
	// checks, it truncates the file and writes its first line, and ends
	// its write by the watch's next read.
	var mu sync.Mutex
	wholeReads, halfWritten := 0, false
	read := func(name string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if halfWritten {
			if err := os.WriteFile(path, []byte(whole), 0o600); err != nil {
				t.Error(err)
			}
			halfWritten = false
		}
		got, err := readTokensFileNow(name)
		if err == nil && string(got) == whole {
			if wholeReads++; wholeReads == 2 {
				if err := os.WriteFile(path, []byte(half), 0o600); err != nil {
					t.Error(err)
				}
				halfWritten = true
			}
		}
		return got, err
	}
	runTokensWatch(t, cfg, access, 10*time.Millisecond, read, newLogger(logs, nil), nil)
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{Access: access}))
	t.Cleanup(srv.Close)

	replaceFile(t, path, whole)
	waitFor(t, "the reload line", func() bool { return len(logLines(t, logs, "access tokens reloaded")) > 0 })
	for name, secret := range map[string]string{"alice": a, "bobby": b} {
		if got := statusOf(t, srv, secret); got != http.StatusOK {
			t.Errorf("%s's token, in the content read the same at two checks: expected 200; got %d", name, got)
		}
	}
	if got := statusOf(t, srv, c); got != http.StatusUnauthorized {
		t.Errorf("carol's token, removed: expected 401; got %d", got)
	}
}

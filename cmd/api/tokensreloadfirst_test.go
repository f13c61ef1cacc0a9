package main

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestATokensFileUnchangedSinceStartUpCountsNoReload: the watch's first
// checks read the file the start-up read, and applied it again, counted
// as a reload applied (tributary_tokens_reloads_total{outcome="applied"}
// 1 on every server with a tokens file, a few seconds after its start)
// though nothing changed: an alert on reloads fired on every start.
func TestATokensFileUnchangedSinceStartUpCountsNoReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("alice:read:aaaa-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, access := tokensFileInForce(t, path)
	m := metrics.New("test")
	var reads atomic.Int64
	read := func(name string) ([]byte, error) {
		defer reads.Add(1)
		return readTokensFileNow(name)
	}
	runTokensWatch(t, cfg, access, time.Millisecond, read, newLogger(&testlog.Buffer{}, nil), m)
	// Past the two checks that take a content, and one more: the count
	// is made before the next read.
	waitFor(t, "four checks of the file", func() bool { return reads.Load() >= 4 })
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if series := `tributary_tokens_reloads_total{outcome="applied"} 1`; strings.Contains(string(body), series) {
		t.Errorf("a tokens file unchanged since the start-up: want no reload counted, got %s", series)
	}
}

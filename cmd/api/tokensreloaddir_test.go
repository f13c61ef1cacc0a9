package main

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestATokensFileReplacedByADirectoryIsSaid: a tokens file removed, or
// unreadable, got an ERROR line and a count of the reload unreadable; one
// replaced by a directory (a secret mount's path remounted as a folder)
// was skipped without a word, its rotations never applied. It is said and
// counted as an unreadable file is, and a file put back is applied.
func TestATokensFileReplacedByADirectoryIsSaid(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("alice:read:aaaa-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, access := tokensFileInForce(t, path)
	m := metrics.New("test")
	logs := &testlog.Buffer{}
	runTokensWatch(t, cfg, access, 10*time.Millisecond, readTokensFileNow, newLogger(logs, nil), m)
	// A change applied first: the watch is under way (one that starts on
	// no regular file watches nothing).
	replaceFile(t, path, "alice:read:aaaa-0123456789abcdef\ncarol:read:cccc-0123456789abcdef\n")
	waitFor(t, "a change applied", func() bool { return reloadCount(t, m, metrics.TokensApplied) == 1 })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "an ERROR line for the tokens file become a directory", func() bool {
		return strings.Contains(logs.String(), `"level":"ERROR","msg":"the tokens file was not read again`) &&
			strings.Contains(logs.String(), "directory")
	})
	if n := reloadCount(t, m, metrics.TokensUnreadable); n != 1 {
		t.Errorf("the tokens file become a directory: tributary_tokens_reloads_total{outcome=%q} is %v, want 1", metrics.TokensUnreadable, n)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	replaceFile(t, path, "alice:read:aaaa-0123456789abcdef\nbobby:read:bbbb-0123456789abcdef\n")
	waitFor(t, "the file put back in place of the directory, applied", func() bool { return reloadCount(t, m, metrics.TokensApplied) == 2 })
}

// reloadCount returns m's tributary_tokens_reloads_total of outcome, 0
// where it has no such series yet.
func reloadCount(t *testing.T, m *metrics.Metrics, outcome string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	series := `tributary_tokens_reloads_total{outcome="` + outcome + `"}`
	match := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if match == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(match[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

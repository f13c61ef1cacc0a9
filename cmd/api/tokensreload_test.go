package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// watched starts watchTokensFile on the file path, with the tokens it
// holds now in force, checking every 10 ms, and serves them over HTTP.
func watched(t *testing.T, path string) (*httptest.Server, *testlog.Buffer) {
	t.Helper()
	cfg, access := tokensFileInForce(t, path)
	logs := &testlog.Buffer{}
	runTokensWatch(t, cfg, access, 10*time.Millisecond, readTokensFileNow, newLogger(logs, nil), nil)
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{Access: access}))
	t.Cleanup(srv.Close)
	return srv, logs
}

// runTokensWatch runs watchTokensFile on cfg's tokens file for access,
// checking every interval, until the test ends.
func runTokensWatch(t *testing.T, cfg config.Config, access *esthttp.Access, interval time.Duration,
	read func(string) ([]byte, error), log *slog.Logger, m *metrics.Metrics) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchTokensFile(ctx, cfg, access, interval, read, log, m)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// tokensFileInForce reads the tokens file path as the start-up does, and
// returns the configuration naming it and the access control it gives.
func tokensFileInForce(t *testing.T, path string) (config.Config, *esthttp.Access) {
	t.Helper()
	cfg := config.Defaults()
	cfg.APITokensFile = path
	tokens, err := loadTokens(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, esthttp.NewAccess(tokens)
}

// replaceFile writes content to path as one change: a file beside it,
// renamed over it.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func statusOf(t *testing.T, srv *httptest.Server, secret string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/streams", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// logLines are the JSON lines of logs whose msg holds msg.
func logLines(t *testing.T, logs *testlog.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && strings.Contains(l["msg"].(string), msg) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits, up to 30 s, for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("expected %s within 30 s; it did not come", what)
		}
	}
}

// TestATokensFileRewrittenIsApplied: a token removed from the file was
// accepted until a restart, and one added refused. The file is checked by
// its content, not its time: rewritten within the same second, to the
// same size, it is applied, with one INFO line naming the tokens added
// and removed, and no secret.
func TestATokensFileRewrittenIsApplied(t *testing.T) {
	t.Parallel()
	const a, b = "aaaa-0123456789abcdef", "bbbb-0123456789abcdef"
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("alice:read:"+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	srv, logs := watched(t, path)
	replaceFile(t, path, "bobby:read:"+b+"\n")
	os.Chtimes(path, st.ModTime(), st.ModTime()) // the same mtime, as a write within the same second may leave
	waitFor(t, "the new token let in", func() bool { return statusOf(t, srv, b) == http.StatusOK })
	if got := statusOf(t, srv, a); got != http.StatusUnauthorized {
		t.Errorf("the removed token: expected 401; got %d", got)
	}
	lines := logLines(t, logs, "access tokens reloaded")
	if len(lines) != 1 || lines[0]["level"] != "INFO" || lines[0]["file"] != "TRIBUTARY_API_TOKENS_FILE" ||
		!sameNames(lines[0]["added"], "bobby") || !sameNames(lines[0]["removed"], "alice") {
		t.Errorf("expected one INFO line access tokens reloaded, added [bobby], removed [alice]; got %v", lines)
	}
	if strings.Contains(logs.String(), a) || strings.Contains(logs.String(), b) {
		t.Errorf("the log holds a token:\n%s", logs)
	}
}

// TestARefusedTokensFileKeepsTheTokensInForce: a file rewritten with an
// entry refused, or emptied, or gone, keeps the tokens in force, and says
// so once per content, naming the variable and the line, never a token.
func TestARefusedTokensFileKeepsTheTokensInForce(t *testing.T) {
	t.Parallel()
	const a, b, short = "aaaa-0123456789abcdef", "bbbb-0123456789abcdef", "hunter2"
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("alice:read:"+a+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, logs := watched(t, path)
	steps := []struct{ content, says string }{
		{"alice:read:" + a + "\nbobby:read:" + short + "\n", "TRIBUTARY_API_TOKENS_FILE line 2"},
		{"# all gone\n", "holds no name:role:token entry"},
		{"", "no such file"}, // removed
	}
	for i, step := range steps {
		if step.content == "" {
			os.Remove(path)
		} else {
			replaceFile(t, path, step.content)
		}
		waitFor(t, "refusal "+step.says, func() bool { return len(logLines(t, logs, "the tokens file")) >= i+1 })
		l := logLines(t, logs, "the tokens file")[i]
		if l["level"] != "ERROR" || !strings.Contains(l["error"].(string), step.says) || l["file"] != "TRIBUTARY_API_TOKENS_FILE" {
			t.Errorf("step %d: expected an ERROR line naming TRIBUTARY_API_TOKENS_FILE, saying %q; got %v", i, step.says, l)
		}
		if got := statusOf(t, srv, a); got != http.StatusOK {
			t.Errorf("step %d: expected the token in force kept (200); got %d", i, got)
		}
	}
	// Fixed, it is applied; each refusal was said once.
	replaceFile(t, path, "bobby:read:"+b+"\n")
	waitFor(t, "the fixed file applied", func() bool { return statusOf(t, srv, b) == http.StatusOK })
	if n := len(logLines(t, logs, "the tokens file")); n != len(steps) {
		t.Errorf("expected one ERROR line per refused content (%d); got %d:\n%s", len(steps), n, logs)
	}
	if strings.Contains(logs.String(), short) || strings.Contains(logs.String(), a) {
		t.Errorf("the log holds a token:\n%s", logs)
	}
}

// TestTheEmptyTokensWarningAdvisesWhatComposeUsersCanDo: the warning for
// TRIBUTARY_API_TOKENS set but empty said to unset it to run open on
// purpose, which compose.yaml's users cannot do (it passes the variable,
// empty when not given). It says what holds for them too.
func TestTheEmptyTokensWarningAdvisesWhatComposeUsersCanDo(t *testing.T) {
	t.Parallel()
	if strings.Contains(tokensSetEmptyWarning, "unset it") || !strings.Contains(tokensSetEmptyWarning, "compose.yaml") ||
		!strings.Contains(tokensSetEmptyWarning, "TRIBUTARY_API_TOKENS is set but empty") {
		t.Errorf("expected the warning to say the variable is set but empty, and advise no unset compose.yaml cannot do; got %q", tokensSetEmptyWarning)
	}
}

func sameNames(v any, want ...string) bool {
	got, _ := v.([]any)
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

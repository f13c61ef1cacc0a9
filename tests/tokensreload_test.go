package tests

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// swapTokensFile replaces what dir/tokens holds as the kubelet updates a
// mounted Secret: the new content in a directory of its own, then the
// ..data symlink swapped to it in one rename.
func swapTokensFile(t *testing.T, dir, version, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, version), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, version, "tokens"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// TestARotatedTokensFileIsTakenWithoutARestart: a token removed from
// TRIBUTARY_API_TOKENS_FILE (a Kubernetes Secret updated in place, a
// symlink swap) was accepted until a restart, and one added refused, and
// a subscription opened with the removed token went on. The file is read
// again every few seconds: the removed token gets 401, the added one is
// let in, the removed token's subscription ends with a problem event
// (401), and one INFO line names the tokens added and removed, no secret.
// A change to a file then refused keeps the tokens in force, with one
// ERROR line naming the entry's line.
func TestARotatedTokensFileIsTakenWithoutARestart(t *testing.T) {
	t.Parallel()
	const kept, leaked, added, short = "kept-0123456789abcdef", "leak-0123456789abcdef", "new1-0123456789abcdef", "tooshort"
	dir := t.TempDir()
	swapTokensFile(t, dir, "..v1", "ops:write:"+kept+"\nleaked:read:"+leaked+"\n")
	if err := os.Symlink(filepath.Join("..data", "tokens"), filepath.Join(dir, "tokens")); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS_FILE="+filepath.Join(dir, "tokens"))
	requireStatus(t, s.get(t, "/events", "Authorization", "Bearer "+leaked), http.StatusOK)
	requireProblem(t, s.get(t, "/events", "Authorization", "Bearer "+added), http.StatusUnauthorized, "unauthorized")
	sub := subscribe(t, s, "/events", "Authorization", "Bearer "+leaked)
	sub.requireRetry(t)

	swapTokensFile(t, dir, "..v2", "ops:write:"+kept+"\nnewcomer:read:"+added+"\n")
	deadline := time.Now().Add(60 * time.Second)
	for s.get(t, "/events", "Authorization", "Bearer "+added).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the token added to the file: still refused 60 s after the swap; output:\n%s", s.output(8192))
		}
		time.Sleep(100 * time.Millisecond)
	}
	requireProblem(t, s.get(t, "/events", "Authorization", "Bearer "+leaked), http.StatusUnauthorized, "unauthorized")
	requireStatus(t, s.get(t, "/events", "Authorization", "Bearer "+kept), http.StatusOK)
	var problem, ended string
	for ended == "" {
		f, err := sub.recv(30 * time.Second)
		switch {
		case err != nil:
			ended = err.Error()
		case f.Event == "problem":
			problem = f.Data
		}
	}
	if !strings.Contains(problem, `"status":401`) || !strings.HasPrefix(ended, errEnded.Error()) {
		t.Errorf("the removed token's subscription: expected a problem event (401), then its end; got the problem %q, then %s", problem, ended)
	}
	var reloaded map[string]any
	for _, l := range s.logLines() {
		if l["msg"] == "access tokens reloaded" {
			reloaded = l
		}
	}
	if reloaded == nil || reloaded["level"] != "INFO" || reloaded["file"] != "TRIBUTARY_API_TOKENS_FILE" ||
		!equalNames(reloaded["added"], "newcomer") || !equalNames(reloaded["removed"], "leaked") {
		t.Errorf("expected an INFO line access tokens reloaded naming the file's variable, added [newcomer] and removed [leaked]; got %v", reloaded)
	}

	// A change refused: the tokens in force stay, and one ERROR says why.
	swapTokensFile(t, dir, "..v3", "ops:write:"+kept+"\nshort:read:"+short+"\n")
	var refusal string
	for refusal == "" {
		for _, l := range s.logLines() {
			if msg, _ := l["msg"].(string); l["level"] == "ERROR" && strings.Contains(msg, "tokens file") {
				refusal, _ = l["error"].(string)
			}
		}
		if time.Now().After(deadline.Add(60 * time.Second)) {
			t.Fatalf("a tokens file refused: no ERROR line; output:\n%s", s.output(8192))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(refusal, "TRIBUTARY_API_TOKENS_FILE line 2") {
		t.Errorf("the refusal: expected it to name TRIBUTARY_API_TOKENS_FILE line 2; got %q", refusal)
	}
	requireStatus(t, s.get(t, "/events", "Authorization", "Bearer "+added), http.StatusOK)
	out := s.output(1 << 20)
	for _, secret := range []string{kept, leaked, added, short} {
		if strings.Contains(out, secret) {
			t.Errorf("the server's output holds a token (%.4s…):\n%s", secret, out)
		}
	}
}

// equalNames reports whether a log attribute is the list of names want.
func equalNames(v any, want ...string) bool {
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

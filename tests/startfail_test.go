package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAStartThatFailsIsLoggedAsAnErrorLineOnStdout: why the service failed
// to start went only to stderr, as text, after a JSON "starting" line on
// stdout, so a log pipeline that reads stdout's JSON saw an instance that
// said "starting" and vanished. The failure is now one JSON line at ERROR
// on stdout as well ("stopped", with the error), whether the configuration
// is refused (before "starting") or a later step fails; stderr keeps the
// text for a human. Neither shows a token.
func TestAStartThatFailsIsLoggedAsAnErrorLineOnStdout(t *testing.T) {
	t.Parallel()
	const secret = "3f9c0a7b1d2e4f60a1b2"
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		args    []string
		env     []string
		wantErr string // in stderr's text and in the ERROR line's error
	}{
		{"a setting refused", []string{"serve"}, []string{"TRIBUTARY_MAX_BATCH=0"}, "TRIBUTARY_MAX_BATCH must be at least 1"},
		{"a setting refused, migrate", []string{"migrate"}, []string{"TRIBUTARY_MAX_BATCH=0"}, "TRIBUTARY_MAX_BATCH must be at least 1"},
		{"a token refused", []string{"serve"}, []string{"TRIBUTARY_API_TOKENS=orders-service:" + secret + ":write"}, "name:role:token"},
		{"a store that does not open", []string{"serve"}, []string{"TRIBUTARY_DATA_DIR=" + notADir}, "is not a directory"},
		{"a store that does not open, migrate", []string{"migrate"}, []string{"TRIBUTARY_DATA_DIR=" + notADir}, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"TRIBUTARY_DATA_DIR=" + t.TempDir(), "TRIBUTARY_ADDR=127.0.0.1:0"}, tc.env...)
			code, stdout, stderr := runCommand(t, env, tc.args...)
			if code != 1 || !strings.Contains(stderr, "api: ") || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("expected exit status 1 and stderr saying %q; got %d.\nStdout:\n%s\nStderr:\n%s", tc.wantErr, code, stdout, stderr)
			}
			var errorLines []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
				var line map[string]any
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("a stdout line that is not JSON: %q: %v", l, err)
				}
				if line["level"] == "ERROR" {
					errorLines = append(errorLines, line)
				}
			}
			if len(errorLines) != 1 {
				t.Fatalf("expected one ERROR line on stdout saying why the start failed; got %d.\nStdout:\n%s", len(errorLines), stdout)
			}
			if got, _ := errorLines[0]["error"].(string); errorLines[0]["msg"] != "stopped" || !strings.Contains(got, tc.wantErr) || errorLines[0]["command"] != tc.args[0] {
				t.Errorf("expected the ERROR line to be \"stopped\", command %s, its error saying %q; got %v", tc.args[0], tc.wantErr, errorLines[0])
			}
			if strings.Contains(stdout+stderr, secret) {
				t.Errorf("the output quotes the token.\nStdout:\n%s\nStderr:\n%s", stdout, stderr)
			}
		})
	}
}

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokensThatWouldLeaveTheServerOpenOrGuessableStopTheStartUp: the real
// binary, given a one-character token (which the black-box tester saw
// taken), a token set to no entry (which left the server open) or a token
// no header can carry, exits 1 before the store is touched, saying what is
// wrong and naming the variable, and quotes no token, whatever the order of
// an entry's fields.
func TestTokensThatWouldLeaveTheServerOpenOrGuessableStopTheStartUp(t *testing.T) {
	t.Parallel()
	const secret = "3f9c0a7b1d2e4f60a1b2"
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("app:write:"+secret+"\ndashboard:read:x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  string
		want string
	}{
		{"TRIBUTARY_API_TOKENS=app:write:x", "shorter than 16 characters"},
		{"TRIBUTARY_API_TOKENS_FILE=" + file, "shorter than 16 characters"},
		{"TRIBUTARY_API_TOKENS=" + secret + ":write:orders-service", "shorter than 16 characters"},
		{"TRIBUTARY_API_TOKENS=#app:write:" + secret, "holds no name:role:token entry"},
		{"TRIBUTARY_API_TOKENS=app:write: " + secret, "begins with a space"},
		{"TRIBUTARY_API_TOKENS=" + secret + ":write:orders-service," + secret + "-2:read:orders-service", "its token is TRIBUTARY_API_TOKENS entry 1's"},
	} {
		dir := t.TempDir()
		code, stdout, stderr := runCommand(t, []string{c.env, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR=" + dir, "TRIBUTARY_ADDR=127.0.0.1:0"}, "serve")
		entries, _ := os.ReadDir(dir)
		if code != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "TRIBUTARY_API_TOKENS") || len(entries) != 0 {
			t.Errorf("api with %s: expected exit status 1 before the store is touched, saying %q and naming the variable; got %d, %d entries in the data directory.\nStdout:\n%s\nStderr:\n%s",
				c.env, c.want, code, len(entries), stdout, stderr)
		}
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("api with %s: its output quotes the token.\nStdout:\n%s\nStderr:\n%s", c.env, stdout, stderr)
		}
	}
}

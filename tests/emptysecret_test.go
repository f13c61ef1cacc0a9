package tests

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAnEmptyMySQLDSNIsRefusedAtStartUp: TRIBUTARY_MYSQL_DSN set but empty
// (an empty Kubernetes Secret, a template left blank) started the server on
// an embedded store of its own, each instance of a deployment meant for
// MySQL taking appends into a private log. It is refused, under serve and
// migrate, saying to unset it for the embedded store. (command drops the
// tests' empty DSN, so the binary is run here without it.)
func TestAnEmptyMySQLDSNIsRefusedAtStartUp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve"}, {"migrate"}} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, apiBinary, args...)
		cmd.Env = append(inheritedEnv(), "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR="+t.TempDir(), "TRIBUTARY_ADDR=127.0.0.1:0")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("api %v with TRIBUTARY_MYSQL_DSN set but empty did not exit (it serves?). Stdout:\n%s", args, stdout.String())
		}
		if _, isExit := err.(*exec.ExitError); !isExit || cmd.ProcessState.ExitCode() != 1 ||
			!strings.Contains(stderr.String(), "TRIBUTARY_MYSQL_DSN is set but empty") || !strings.Contains(stderr.String(), "unset it for the embedded store") {
			t.Errorf("api %v with TRIBUTARY_MYSQL_DSN set but empty: expected exit status 1 saying it is set but empty and to unset it for the embedded store; got %v.\nStdout:\n%s\nStderr:\n%s",
				args, err, stdout.String(), stderr.String())
		}
	}
}

// TestAnEmptyTokensVariableIsWarnedOfAsSetButEmpty: TRIBUTARY_API_TOKENS set
// but empty leaves access control off, as unset does (compose.yaml passes it
// so by default), but an empty secret meant to hold tokens does the same:
// the start's warning that access control is off says the variable is set
// but empty, so that an operator who meant tokens sees it. Unset, the
// warning does not say so.
func TestAnEmptyTokensVariableIsWarnedOfAsSetButEmpty(t *testing.T) {
	t.Parallel()
	offWarning := func(s *server) string {
		for _, l := range s.logLines() {
			if msg, _ := l["msg"].(string); l["level"] == "WARN" && strings.HasPrefix(msg, "access control is off") {
				return msg
			}
		}
		return ""
	}
	empty := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_API_TOKENS=")
	if msg := offWarning(empty); !strings.Contains(msg, "TRIBUTARY_API_TOKENS is set but empty") {
		t.Errorf("TRIBUTARY_API_TOKENS set but empty: expected the access control WARN to say it is set but empty; got %q. Output:\n%s", msg, empty.output(8192))
	}
	unset := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	if msg := offWarning(unset); msg == "" || strings.Contains(msg, "set but empty") {
		t.Errorf("TRIBUTARY_API_TOKENS unset: expected the access control WARN, not saying it is set but empty; got %q", msg)
	}
}

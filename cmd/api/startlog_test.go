package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/testlog"
)

// migrateLogged runs `api migrate` on a new embedded store with env set
// (every other TRIBUTARY_ variable unset) and returns its log's lines.
func migrateLogged(t *testing.T, env map[string]string) []map[string]any {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TRIBUTARY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("TRIBUTARY_DATA_DIR", t.TempDir())
	for k, v := range env {
		t.Setenv(k, v)
	}
	logs := &testlog.Buffer{}
	if err := run(context.Background(), context.Background(), []string{"migrate"}, logs); err != nil {
		t.Fatalf("api migrate: %v; the log:\n%s", err, logs.String())
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("a log line that is not JSON: %q: %v", l, err)
		}
		lines = append(lines, line)
	}
	return lines
}

// TestAByteLimitNotInForceIsWarnedOfAtStartUp: an event limit given above
// the body limit was lowered to it without a word.
func TestAByteLimitNotInForceIsWarnedOfAtStartUp(t *testing.T) {
	lines := migrateLogged(t, map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "2048", "TRIBUTARY_MAX_EVENT_BYTES": "4096"})
	warned := 0
	for _, line := range lines {
		if msg, _ := line["msg"].(string); line["level"] == "WARN" && strings.Contains(msg, "TRIBUTARY_MAX_EVENT_BYTES (4096)") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("TRIBUTARY_MAX_EVENT_BYTES=4096 above TRIBUTARY_MAX_BODY_BYTES=2048 was warned of %d times; expected once. The log: %v", warned, lines)
	}
}

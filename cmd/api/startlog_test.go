package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

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

// TestDurationsAreLoggedInMilliseconds: the structured log wrote every
// time.Duration as slog's default, a bare count of nanoseconds under a key
// that said no unit ("duration":556856, "timeout":30000000000), beside the
// access log's duration_ms. Every duration is now milliseconds under its
// key with _ms added, as the access log's.
func TestDurationsAreLoggedInMilliseconds(t *testing.T) {
	lines := migrateLogged(t, nil)
	applied := 0
	for _, line := range lines {
		if line["msg"] != "applied migration" {
			continue
		}
		applied++
		if d, ok := line["duration"]; ok {
			t.Fatalf("an applied migration's duration is logged as %v under \"duration\", with no unit; expected it under duration_ms. The line: %v", d, line)
		}
		if ms, ok := line["duration_ms"].(float64); !ok || ms < 0 || ms > 60_000 {
			t.Fatalf("an applied migration's duration_ms is %v; expected milliseconds. The line: %v", line["duration_ms"], line)
		}
	}
	if applied == 0 {
		t.Fatalf("no migration was logged as applied; the log: %v", lines)
	}
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

// TestEveryDurationIsMillisecondsUnderAKeyThatSaysSo: a duration in a
// group, or under a key that already says _ms, is written so too; other
// values are left as they are.
func TestEveryDurationIsMillisecondsUnderAKeyThatSaysSo(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	newLogger(logs, slog.LevelInfo).Info("x", "timeout", 30*time.Second, "retry_in", 250*time.Millisecond,
		"took_ms", 1500*time.Microsecond, slog.Group("stop", "delay", 2*time.Second), "count", 3, "note", "30s")
	var line map[string]any
	if err := json.Unmarshal([]byte(logs.String()), &line); err != nil {
		t.Fatalf("%q: %v", logs.String(), err)
	}
	stop, _ := line["stop"].(map[string]any)
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"timeout_ms", line["timeout_ms"], 30000.0},
		{"retry_in_ms", line["retry_in_ms"], 250.0},
		{"took_ms", line["took_ms"], 1.5},
		{"stop.delay_ms", stop["delay_ms"], 2000.0},
		{"count", line["count"], 3.0},
		{"note", line["note"], "30s"},
		{"timeout", line["timeout"], nil},
		{"took_ms_ms", line["took_ms_ms"], nil},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v; expected %v. The line: %s", c.key, c.got, c.want, logs.String())
		}
	}
}

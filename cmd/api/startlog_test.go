package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

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

// TestDurationsInStructsMapsAndListsAreMillisecondsToo: a duration in a
// struct, a map or a list logged as one value (slog.Any: pool statistics, a
// bound's settings) was written by encoding/json, as nanoseconds under a
// key that said no unit ("Wait":1000000000), though the same duration
// beside it, or in a group, was "wait_ms":1000. It is now written as in a
// group: milliseconds under its name with _ms added, the struct's other
// fields as encoding/json names and writes them. A value with no duration
// in it is written as before.
func TestDurationsInStructsMapsAndListsAreMillisecondsToo(t *testing.T) {
	t.Parallel()
	type inner struct {
		Delay time.Duration `json:"delay"`
	}
	type embedded struct{ Spent time.Duration }
	type settings struct {
		embedded
		Wait    time.Duration
		Named   time.Duration `json:"named"`
		Skipped time.Duration `json:"-"`
		Empty   time.Duration `json:"empty,omitempty"`
		Inner   inner         `json:"inner"`
		Ptr     *inner        `json:"ptr"`
		Nil     *inner        `json:"nil"`
		Count   int           `json:"count"`
		At      time.Time     `json:"at"`
		hidden  time.Duration
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := 250 * time.Millisecond
	id := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	logs := &testlog.Buffer{}
	newLogger(logs, slog.LevelInfo).Info("x",
		"s", settings{embedded: embedded{Spent: time.Millisecond}, Wait: time.Second, Named: 2 * time.Second, Skipped: time.Hour,
			Inner: inner{Delay: 3 * time.Second}, Ptr: &inner{Delay: 4 * time.Second}, Count: 5, At: at, hidden: time.Hour},
		"sp", &inner{Delay: 1500 * time.Microsecond},
		"dp", &d,
		"list", []time.Duration{time.Second, 2 * time.Millisecond},
		"map", map[string]time.Duration{"b": time.Second, "a": 2 * time.Second},
		"plain", struct{ A int }{1},
		"id", id,
		"err", errors.New("boom"),
	)
	var got, want any
	if err := json.Unmarshal([]byte(logs.String()), &got); err != nil {
		t.Fatalf("%q: %v", logs.String(), err)
	}
	delete(got.(map[string]any), "time")
	const expected = `{"level":"INFO","msg":"x",
		"s":{"Spent_ms":1,"Wait_ms":1000,"named_ms":2000,"inner":{"delay_ms":3000},"ptr":{"delay_ms":4000},"nil":null,"count":5,"at":"2026-01-02T03:04:05Z"},
		"sp":{"delay_ms":1.5},
		"dp_ms":250,
		"list_ms":[1000,2],
		"map":{"a_ms":2000,"b_ms":1000},
		"plain":{"A":1},
		"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"err":"boom"}`
	if err := json.Unmarshal([]byte(expected), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("logged:\n%s\nexpected (time aside):\n%s", logs.String(), expected)
	}
}

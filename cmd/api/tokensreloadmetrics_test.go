package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestTokensReloadsAreCounted: a rotation of the tokens file left no trace
// but a log line: an operator could not graph or alert on a reload
// refused, nor see when the tokens in force were read. Each change the
// watch meets is counted by outcome, once, as its line is said
// (tributary_tokens_reloads_total{outcome}), and the time of the last
// read in force is a gauge (tributary_tokens_last_reload_timestamp_seconds).
func TestTokensReloadsAreCounted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("alice:read:aaaa-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, access := tokensFileInForce(t, path)
	m := metrics.New("test")
	logs := &testlog.Buffer{}
	runTokensWatch(t, cfg, access, 10*time.Millisecond, readTokensFileNow, newLogger(logs, nil), m)
	scrape := func(series string) float64 {
		t.Helper()
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		match := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
		if match == nil {
			t.Fatalf("no series %s in the scrape:\n%s", series, body)
		}
		v, err := strconv.ParseFloat(string(match[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	count := func(outcome string) float64 {
		return scrape(`tributary_tokens_reloads_total{outcome="` + outcome + `"}`)
	}
	const last = "tributary_tokens_last_reload_timestamp_seconds"

	before := time.Now()
	replaceFile(t, path, "alice:read:aaaa-0123456789abcdef\nbobby:read:bbbb-0123456789abcdef\n")
	waitFor(t, "a change applied, counted", func() bool { return count(metrics.TokensApplied) == 1 })
	if at := scrape(last); at < float64(before.Unix()) {
		t.Errorf("%s is %v after a change applied; want it at the change (after %d)", last, at, before.Unix())
	}
	replaceFile(t, path, "carol:bogus:cccc-0123456789abcdef\n")
	waitFor(t, "a change refused, counted", func() bool { return count(metrics.TokensRefused) == 1 })
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the file unreadable, counted", func() bool { return count(metrics.TokensUnreadable) == 1 })
	// Said once each, as their lines, not at each check: the checks that
	// found the file gone again, and the refused content's twin, before a
	// file put back is applied, count nothing more.
	replaceFile(t, path, "alice:read:aaaa-0123456789abcdef\n")
	waitFor(t, "the file put back, applied", func() bool { return count(metrics.TokensApplied) == 2 })
	if r, u := count(metrics.TokensRefused), count(metrics.TokensUnreadable); r != 1 || u != 1 {
		t.Errorf("after one change refused and the file gone for several checks: refused %v, unreadable %v; want 1 each", r, u)
	}
}

// TestTheTokensReadAtStartUpAreTimed: the time the tokens in force were
// read is there from the start, the start-up's read, not 0 until the
// first change: an alert on its age must not fire on a server that never
// had one.
func TestTheTokensReadAtStartUpAreTimed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("alice:read:aaaa-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRIBUTARY_DATA_DIR", t.TempDir())
	t.Setenv("TRIBUTARY_API_TOKENS_FILE", path)
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	t.Setenv("TRIBUTARY_DEBUG_ADDR", "127.0.0.1:0")
	before := time.Now()
	logs, _, stop := serveForRedaction(t)
	defer stop()
	debug := regexp.MustCompile(`"msg":"debug listening","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if debug == nil {
		t.Fatalf("no debug listening line:\n%s", logs.String())
	}
	resp, err := http.Get("http://" + debug[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	match := regexp.MustCompile(`(?m)^tributary_tokens_last_reload_timestamp_seconds (\S+)$`).FindSubmatch(body)
	if match == nil {
		t.Fatalf("no tributary_tokens_last_reload_timestamp_seconds in the scrape:\n%s", body)
	}
	if at, err := strconv.ParseFloat(string(match[1]), 64); err != nil || at < float64(before.Unix()) {
		t.Errorf("tributary_tokens_last_reload_timestamp_seconds is %s at start; want the start-up's read (after %d)", match[1], before.Unix())
	}
}

package http

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestThePagesBackOffIsJittered: the page's waits before it tries again (a
// 503's Retry-After and the backoff past it, a live log connection lost or
// refused, a view's read that failed) doubled up to 30 s with no random
// part, and its reconnection after a restart was the server's retry exactly:
// every browser open when a server went away retried in lock step and came
// back all at once. Each wait is now jittered: the least wait (never less:
// a Retry-After is honoured) and up to half as much again, drawn from a
// random source the test gives it. The page's own function is run by node
// with chosen draws; and every wait the page sleeps before trying again is
// one it drew (named delay, assigned from jittered), so that no back-off is
// left without it.
func TestThePagesBackOffIsJittered(t *testing.T) {
	t.Parallel()
	fn := regexp.MustCompile(`(?s)\n  function jittered\(.*?\n  }\n`).FindString(pageJS)
	if fn == "" {
		t.Fatal("app.js has no function jittered: the page's back-off waits have no random part, and pages retry in lock step")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the page's jittered cannot be run")
	}
	// draws are the random values given; pages, 100 pages' waits after
	// the same 30 s backoff, with a seeded generator.
	script := fn + `
const out = {};
for (const ms of [1000, 2000, 30000]) out[ms] = [0, 0.25, 0.5, 0.999999, 1].map((r) => jittered(ms, () => r));
let seed = 42;
const lcg = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
out.pages = Array.from({ length: 100 }, () => jittered(30000, lcg));
console.log(JSON.stringify(out));
`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, node, "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node ran app.js's jittered: %v\n%s", err, b)
	}
	var got map[string][]int
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("node's output %q: %v", b, err)
	}
	for _, ms := range []int{1000, 2000, 30000} {
		w := got[strconv.Itoa(ms)]
		if len(w) != 5 || w[0] != ms || w[1] != ms+ms/8 || w[2] != ms+ms/4 || w[3] >= ms*3/2 || w[4] >= ms*3/2 || w[3] <= w[2] {
			t.Errorf("jittered(%d) with draws 0, 0.25, 0.5, 0.999999, 1: %v; want %d, %d, %d, then two below %d, rising",
				ms, w, ms, ms+ms/8, ms+ms/4, ms*3/2)
		}
	}
	distinct := map[int]bool{}
	for _, w := range got["pages"] {
		if w < 30000 || w >= 45000 {
			t.Errorf("a page's wait after a 30 s backoff: %d ms; want 30000 to 45000", w)
		}
		distinct[w] = true
	}
	if len(distinct) < 90 {
		t.Errorf("100 pages after the same 30 s backoff wait %d different times; want them spread (90 or more)", len(distinct))
	}

	// Every sleep before trying again, every reconnection, takes a delay
	// drawn from jittered.
	js := pageJS
	for _, c := range []struct{ what, re, want string }{
		{"a sleep before trying again", `setTimeout\(r, ([^)]*)\)`, "delay"},
		{"a reconnection after a connection ended", `setTimeout\(\(\) => open\(true\), ([^)]*)\)`, "delay"},
		{"a retry of the live log", `\bretry\(([^,)]*)[,)]`, "delay"},
	} {
		matches := regexp.MustCompile(c.re).FindAllStringSubmatch(js, -1)
		if len(matches) == 0 {
			t.Errorf("app.js has no %s (%s): the test no longer matches the page", c.what, c.re)
		}
		for _, m := range matches {
			if arg := m[1]; arg != c.want && arg != "0" && arg != "ms" && !strings.HasPrefix(arg, "Number(") {
				t.Errorf("app.js: %s waits %q; want a delay drawn from jittered", c.what, m[0])
			}
		}
	}
	for _, m := range regexp.MustCompile(`\bdelay = [^;]*;`).FindAllString(js, -1) {
		if !strings.HasPrefix(m, "delay = jittered(") {
			t.Errorf("app.js: %q; want every delay drawn from jittered", m)
		}
	}
}

package tests

import (
	"os"
	"strings"
	"testing"
)

// readmeFollow is the README's EventSource pattern for a page that must
// follow on after a refusal (the js block that defines follow), with
// console.log, console.error, setTimeout and EventSource counted in
// window.seen: logged (events), stopped (the problems it stopped at),
// retries (follows it scheduled) and opens.
func readmeFollow(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(readme), "```js\n")[1:] {
		code, _, _ := strings.Cut(block, "```")
		if strings.Contains(code, "function follow()") {
			return `window.seen = { logged: [], stopped: [], retries: 0, opens: 0 };
				console.log = (...a) => seen.logged.push(a);
				console.error = (...a) => seen.stopped.push(a);
				const schedule = window.setTimeout;
				window.setTimeout = (f, ms) => { seen.retries++; return schedule(f, ms); };
				const Opened = window.EventSource;
				window.EventSource = class extends Opened { constructor(url) { super(url); seen.opens++; } };
				{ ` + code + ` }
				return null`
		}
	}
	t.Fatal("README holds no js block that defines follow()")
	return ""
}

// TestREADMEEventSourcePatternRetriesA503AndStopsAtARefusal: the README's
// pattern for following on after a refusal retried every status, every
// 2–4 s for ever: a 409 after the database was reset (a position past its
// head), a 401 or a 400, which no retry mends, as a 503. It now asks the
// same URL with fetch, stops at those, saying why, and still waits out a
// 503. Run as the README writes it, in Chromium.
func TestREADMEEventSourcePatternRetriesA503AndStopsAtARefusal(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	follow := readmeFollow(t)
	b := startBrowser(t, chromium, driver)

	// A 503: the one subscription place held, then given up.
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MAX_SUBSCRIBERS=1")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
	release := s.holdASubscription(t)
	b.navigate(t, s.URL+"/healthz") // same origin, and no page following the log
	b.run(t, follow)
	b.waitFor(t, "a retry scheduled after the 503", `return seen.retries > 0`, "true")
	release()
	b.waitFor(t, "the event, once the place is free", `return seen.logged.length`, "1")
	b.waitFor(t, "no stop", `return seen.stopped.length`, "0")

	// A 409: resumed from a position past the head of a database reset.
	s2 := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	b.navigate(t, s2.URL+"/healthz")
	b.run(t, strings.Replace(follow, "let last = 0", "let last = 99", 1))
	b.waitFor(t, "a stop at the 409, saying why", `return seen.stopped.map(a => a[1].type.split('/').pop()).join()`, `"starting-point-ahead"`)
	b.waitFor(t, "no retry of it", `return [seen.retries, seen.opens]`, "[0,1]")
}

package tests

import (
	"fmt"
	"strings"
	"testing"
)

// TestPagePausedAgainEndsTheResumesWait: a live view resumed reads what
// came while it was paused; a read answered 503 (or 429) waits its
// Retry-After, up to 30 s, and one answered 5xx its backoff, and then
// asks again, saying so. Paused again meanwhile, the view went on: it
// waited, read again, up to about 2 MiB, for an answer it then dropped,
// and said "Trying again in 30 s…" over the paused view, again at each
// refusal, for as long as the server refused. Pausing now gives the
// resume's reads up, as leaving the view does, and takes back what it
// said. Each case answers the resume's read so, and pauses the view as
// soon as the page says it will try again: the wait's timer is seen
// cleared, not run, and nothing is said of trying again.
func TestPagePausedAgainEndsTheResumesWait(t *testing.T) {
	t.Parallel()
	id := newID()
	for _, c := range []struct{ name, hash, pause, read, answer string }{
		// A stream's tail, its read answered 503 with Retry-After: 30 (api's wait).
		{"stream 503", "#/streams/" + id, "stream-pause", `u.startsWith('/streams/` + id + `/events?direction=backward')`, `503, {'Retry-After': '30'}`},
		// A stream's tail, its read answered 502 (the live views' backoff).
		{"stream 502", "#/streams/" + id, "stream-pause", `u.startsWith('/streams/` + id + `/events?direction=backward')`, `502, {}`},
		// The live log, its read answered 429 with Retry-After: 30.
		{"log 429", "#/", "log-pause", `u.startsWith('/events?') && !live`, `429, {'Retry-After': '30'}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, b := startPageOnSQLite(t)
			s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})
			// Once the resumed view says it will try again, it is paused
			// again, and the waits pending then are kept.
			b.beforePage(t, failReadsThenWhenTryingAgain(c.read, c.answer, fmt.Sprintf(`document.getElementById(%q).click()`, c.pause)))
			b.navigate(t, s.URL+"/"+c.hash)
			statusID := map[string]string{"stream-pause": "stream-status", "log-pause": "log-status"}[c.pause]
			status := fmt.Sprintf(`return document.getElementById(%q).textContent`, statusID)
			b.waitFor(t, "the live view", status+`.includes('caught up')`, "true")
			b.run(t, fmt.Sprintf(`document.getElementById(%q).click(); return null`, c.pause))
			b.waitFor(t, "the view paused", status, `"Paused"`)
			// One more event while paused, for the resume to read.
			s.mustAppend(t, id, appendBody{Events: events(1, "OrderShipped")})
			b.waitFor(t, "the event counted", `return document.getElementById('stat-seen').textContent`, `"1"`)
			b.run(t, fmt.Sprintf(`window.failing = true; document.getElementById(%q).click(); return null`, c.pause))
			b.waitFor(t, "the resumed view tried again, and was paused again", `return [window.kept?.length > 0, `+strings.TrimPrefix(status, "return ")+`]`, `[true,"Paused"]`)
			b.waitFor(t, "the paused view's wait ended at once, and nothing said of trying again", `const s = window.kept.map((id) => window.timers.get(id).s);
				return [s.every((x) => x === 'cleared') || s, document.getElementById('error').textContent]`, `[true,""]`)
		})
	}
}

package tests

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestPageFilteredLiveLogResumedAfterADenseBurstReadsAboutOneRead: a
// filtered live log resumed after a pause read each window of positions
// whole, its limit guessed from how many had matched before: the newest
// positions quiet, the first window took in the whole burst of matches
// under them, here 4,000 events of 1 KiB, 4 MiB to keep 500 rows, and a
// long pause on a busy log read as many megabytes as came. What is read
// of a window now says how dense it is: where the rest would not fit, the
// window starts higher, and about one read's 2 MiB is read; the list
// starts afresh from the newest, older ones on demand.
func TestPageFilteredLiveLogResumedAfterADenseBurstReadsAboutOneRead(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderPlaced")
	b.navigate(t, s.URL+"/#/?type=Big")
	logStatus := `return document.getElementById('log-status').textContent`
	b.waitFor(t, "the live log caught up", logStatus, `"Live at position 2: caught up"`)
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log paused", logStatus, `"Paused"`)
	kib := strings.Repeat("x", 1000)
	for range 8 {
		evs := make([]newEvent, 500)
		for i := range evs {
			evs[i] = newEvent{Type: "Big", Data: map[string]string{"k": kib}}
		}
		s.mustAppend(t, id, appendBody{Events: evs})
	}
	s.mustAppend(t, id, appendBody{Events: events(6, "OrderNoted")})
	b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, `"4008"`)
	b.run(t, `performance.clearResourceTimings(); document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log live again", logStatus, `"Live at position 4008: caught up"`)
	if n, _ := strconv.Atoi(b.run(t, fmt.Sprintf(readBytesJS, "/events?type=Big"))); n > 3<<20 {
		t.Errorf("the resumed filtered log read %d bytes, want at most 3 MiB", n)
	}
	b.waitFor(t, "the newest match first, and no gap", `const p = `+positionsJS[len("return "):]+`;
		return [p[0], p.every((x, i) => i === 0 || x === p[i - 1] - 1), document.getElementById('log-older').hidden]`, "[4002,true,false]")
}

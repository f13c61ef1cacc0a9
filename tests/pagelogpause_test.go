package tests

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestPageLiveLogPausesAndResumesWithWhatCameMeanwhile: the live log keeps
// its newest 500 events, and had no pause, as a stream's tail has: on a
// busy log each new event pushed the oldest out, the one a user was
// reading among them, and nothing stopped the list moving. "Pause live
// log" stops it (the totals at the top still follow the log); "Resume"
// shows what came meanwhile, each event once, then follows the log again.
// If more came than one read holds, the list starts afresh from what the
// read has, older events on demand, as a stream's tail does.
func TestPageLiveLogPausesAndResumesWithWhatCameMeanwhile(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderPlaced")
	b.navigate(t, s.URL+"/#/")
	logStatus := `return document.getElementById('log-status').textContent`
	b.waitFor(t, "the live log caught up", logStatus, `"Live at position 2: caught up"`)
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	// Its name says what a click does, and nothing else: as a toggle
	// (aria-pressed) it was read out "Resume live log, toggle button,
	// pressed", its state said twice and the two at odds.
	b.waitFor(t, "the log paused", `const p = document.getElementById('log-pause');
		return [document.getElementById('log-status').textContent, p.hasAttribute('aria-pressed'), p.textContent]`, `["Paused",false,"Resume live log"]`)
	s.mustAppend(t, id, appendBody{Events: events(3, "OrderNoted")})
	b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, `"5"`)
	if got := b.run(t, positionsJS); got != "[2,1]" {
		t.Fatalf("the paused log shows positions %s; want [2,1], as when it was paused", got)
	}
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "what came while paused, each once", positionsJS, "[5,4,3,2,1]")
	b.waitFor(t, "the log live again", logStatus, `"Live at position 5: caught up"`)
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderNoted")})
	b.waitFor(t, "the next event, live", positionsJS, "[6,5,4,3,2,1]")

	// More than one read holds (the log's 2 MiB, by 20 events of 512 KiB):
	// it starts afresh from the newest, older ones on demand.
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log paused", logStatus, `"Paused"`)
	appendTwentyHalfMiBEvents(t, s, newID(), "blob")
	b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, `"26"`)
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log live again", logStatus, `"Live at position 26: caught up"`)
	b.waitFor(t, "the newest events, and no gap", `const p = `+positionsJS[len("return "):]+`;
		return [p[0], p.every((x, i) => i === 0 || x === p[i - 1] - 1), p.includes(6), document.getElementById('log-older').hidden]`, "[26,true,false,false]")
	for i := 0; i < 10 && b.run(t, `return document.getElementById('log-older').hidden`) == "false"; i++ {
		b.run(t, `document.getElementById('log-older').click(); return null`)
		b.waitFor(t, "a page of older events", `return document.getElementById('log-older').disabled`, "false")
	}
	b.waitFor(t, "every position once", fmt.Sprintf(`const p = `+positionsJS[len("return "):]+`;
		return p.length === %d && p.every((x, i) => x === %d - i)`, 26, 26), "true")
}

// TestPageLiveLogResumedAfterMoreThanAThousandEventsGoesOn: a live log
// resumed after more than 1,000 positions came asked for them in reads of
// a limit past the API's 1,000, sized by the bytes they would hold (small
// events: thousands): the server refused the read with a 400, and the log
// stopped for good, "Stopped: query parameter limit is out of range",
// filtered or not. A read asks for 1,000 at most; the log goes on live,
// the newest first and no position missed or repeated.
func TestPageLiveLogResumedAfterMoreThanAThousandEventsGoesOn(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderPlaced")
	logStatus := `return document.getElementById('log-status').textContent`
	want := 2
	for _, view := range []string{"#/", "#/?type=OrderNoted"} {
		b.navigate(t, s.URL+"/"+view)
		b.waitFor(t, "the live log caught up", logStatus, fmt.Sprintf(`"Live at position %d: caught up"`, want))
		b.run(t, `document.getElementById('log-pause').click(); return null`)
		b.waitFor(t, "the log paused", logStatus, `"Paused"`)
		for range 3 {
			s.mustAppend(t, id, appendBody{Events: events(500, "OrderNoted")})
		}
		want += 1500
		b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, fmt.Sprintf(`"%d"`, want))
		b.run(t, `document.getElementById('log-pause').click(); return null`)
		b.waitFor(t, view+" live again", logStatus, fmt.Sprintf(`"Live at position %d: caught up"`, want))
		b.waitFor(t, view+": the newest first, and no gap", `const p = `+positionsJS[len("return "):]+`;
			return [p[0], p.every((x, i) => i === 0 || x === p[i - 1] - 1), p.length]`, fmt.Sprintf("[%d,true,500]", want))
	}
}

// TestPageLiveLogResumedAfterThousandsOfEventsLaysOutAboutWhatItKeeps: a
// live log resumed after a pause read what came meanwhile down to 2 MiB,
// thousands of small events, and laid every one of them out, in one task,
// for the newest 500 to stay: here 2,000 rows added for 500 kept. It reads
// about as many as the list keeps (a window of 1,000 positions at most
// past the 500), and the rest are older events, on demand.
func TestPageLiveLogResumedAfterThousandsOfEventsLaysOutAboutWhatItKeeps(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderPlaced")
	b.navigate(t, s.URL+"/#/")
	logStatus := `return document.getElementById('log-status').textContent`
	b.waitFor(t, "the live log caught up", logStatus, `"Live at position 2: caught up"`)
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log paused", logStatus, `"Paused"`)
	for range 4 {
		s.mustAppend(t, id, appendBody{Events: events(500, "OrderNoted")})
	}
	b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, `"2002"`)
	b.run(t, `window.added = 0;
		new MutationObserver((ms) => { for (const m of ms) window.added += m.addedNodes.length; }).observe(document.getElementById('log-events'), { childList: true });
		document.getElementById('log-pause').click();
		return null`)
	b.waitFor(t, "the log live again", logStatus, `"Live at position 2002: caught up"`)
	b.waitFor(t, "the newest first, and no gap", `const p = `+positionsJS[len("return "):]+`;
		return [p[0], p.every((x, i) => i === 0 || x === p[i - 1] - 1), p.length, document.getElementById('log-older').hidden]`, "[2002,true,500,false]")
	if n, _ := strconv.Atoi(b.run(t, `return window.added`)); n > 1100 {
		t.Errorf("the resumed log laid out %d rows to keep 500; want about one read's 1,000 at most", n)
	}
}

// TestPageOlderEventsOnTheirWayAcrossAResumeLeaveNoGap: "Load older
// events" clicked, then the log paused and resumed while that read was on
// its way: the resume started the list afresh from the newest (more came
// than it keeps), and the older read, answered after, added its events
// under them and set the list's lower end to its own: every event between
// the two reads was gone from the list, and "Load older events" went on
// below them. An older read answered after the list started afresh is
// dropped; the list has no gap.
func TestPageOlderEventsOnTheirWayAcrossAResumeLeaveNoGap(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 150, "OrderPlaced")
	b.navigate(t, s.URL+"/#/")
	logStatus := `return document.getElementById('log-status').textContent`
	b.waitFor(t, "the live log caught up", logStatus, `"Live at position 150: caught up"`)
	// The next read of the log's history is held until window.release().
	b.run(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => {
			if (!window.hold || !/^\/events\?after=\d+&limit=/.test(String(u))) return fetch0(u, o);
			window.hold = false;
			return new Promise((r) => { window.release = r; }).then(() => fetch0(u, o));
		};
		window.hold = true;
		document.getElementById('log-older').click();
		return null`)
	b.waitFor(t, "the older read on its way", `return typeof window.release`, `"function"`)
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log paused", logStatus, `"Paused"`)
	for range 3 {
		s.mustAppend(t, id, appendBody{Events: events(500, "OrderNoted")})
	}
	b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, `"1650"`)
	b.run(t, `document.getElementById('log-pause').click(); return null`)
	b.waitFor(t, "the log live again", logStatus, `"Live at position 1650: caught up"`)
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "the older read answered", `return document.getElementById('log-older').disabled`, "false")
	b.waitFor(t, "the newest first, and no gap", `const p = `+positionsJS[len("return "):]+`;
		return [p[0], p.every((x, i) => i === 0 || x === p[i - 1] - 1), document.getElementById('log-older').textContent === 'Load older events (before position ' + p[p.length - 1] + ')']`, "[1650,true,true]")
}

// TestPageEarlierEventsOnTheirWayAcrossAResumeLeaveNoGap: as the live
// log's older events (TestPageOlderEventsOnTheirWayAcrossAResumeLeaveNoGap),
// a stream's earlier events on their way while its tail was paused and
// resumed with more than it keeps were added under the fresh list, the
// versions between gone. They are dropped.
func TestPageEarlierEventsOnTheirWayAcrossAResumeLeaveNoGap(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 120, "OrderPlaced")
	b.openLiveStream(t, s, id, 120, "the live tail")
	b.run(t, `const fetch0 = window.fetch;
		window.fetch = (u, o) => {
			if (!window.hold || !String(u).includes('/events?')) return fetch0(u, o);
			window.hold = false;
			return new Promise((r) => { window.release = r; }).then(() => fetch0(u, o));
		};
		window.hold = true;
		document.getElementById('stream-earlier').click();
		return null`)
	b.waitFor(t, "the earlier read on its way", `return typeof window.release`, `"function"`)
	b.pauseTail(t)
	s.mustAppend(t, id, appendBody{Events: events(100, "OrderNoted")})
	b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, `"220"`)
	b.run(t, `document.getElementById('stream-pause').click(); return null`)
	b.waitFor(t, "the tail live again", statusJS, `"Live at version 220: caught up"`)
	b.run(t, `window.release(); return null`)
	b.waitFor(t, "the earlier read answered", `return document.getElementById('stream-earlier').disabled`, "false")
	b.waitFor(t, "the newest first, and no gap", `const v = `+versionsJS[len("return "):]+`;
		return [v[0], v.every((x, i) => i === 0 || x === v[i - 1] - 1)]`, "[220,true]")
}

// TestPagePausedAgainWhileResumingKeepsWhatItShows: a live view (the log,
// a stream's tail) resumed after more than it keeps starts its list afresh
// from what its read finds. Paused again before that read answered, the
// answer still emptied the list: the paused view, kept still so that a
// user could read it, showed nothing, and a quick pause, resume, pause,
// resume could have an older resume's answer empty the list a newer one
// had filled. A resume's read answered once it is no longer the last
// changes nothing.
func TestPagePausedAgainWhileResumingKeepsWhatItShows(t *testing.T) {
	t.Parallel()
	for _, v := range []struct{ name, hash, pause, status, rows, read, live string }{
		{"log", "#/", "log-pause", "log-status", positionsJS, `/^\/events\?after=\d+&limit=/`, `"Live at position 1502: caught up"`},
		{"stream", "#/streams/", "stream-pause", "stream-status", versionsJS, `/\/events\?direction=backward/`, `"Live at version 1502: caught up"`},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			s, b, id := startPageWithAStream(t, "order", 2, "OrderPlaced")
			hash := v.hash
			if v.name == "stream" {
				hash += id
			}
			b.navigate(t, s.URL+"/"+hash)
			status := fmt.Sprintf(`return document.getElementById(%q).textContent`, v.status)
			click := fmt.Sprintf(`document.getElementById(%q).click(); return null`, v.pause)
			b.waitFor(t, "the view caught up", status, strings.Replace(v.live, "1502", "2", 1))
			b.run(t, click)
			b.waitFor(t, "the view paused", status, `"Paused"`)
			for range 3 {
				s.mustAppend(t, id, appendBody{Events: events(500, "OrderNoted")})
			}
			b.waitFor(t, "the totals to follow the log", `return document.getElementById('stat-position').textContent`, `"1502"`)
			// The resume's first read is held until window.release(); the
			// reads on their way are counted.
			b.run(t, fmt.Sprintf(`const fetch0 = window.fetch;
				window.reading = 0;
				window.fetch = (u, o) => {
					if (!%s.test(String(u))) return fetch0(u, o);
					window.reading++;
					const held = !window.release ? new Promise((r) => { window.release = r; }) : Promise.resolve();
					return held.then(() => fetch0(u, o)).finally(() => { window.reading--; });
				};
				return null`, v.read))
			b.run(t, click)
			b.waitFor(t, "the resume's read on its way", `return typeof window.release`, `"function"`)
			b.run(t, click)
			b.waitFor(t, "the view paused again", status, `"Paused"`)
			b.run(t, `window.release(); return null`)
			b.waitFor(t, "the resume's reads answered", `return window.reading`, `0`)
			if got := b.run(t, v.rows); got != "[2,1]" {
				t.Errorf("the view paused again while its resume read shows %s once the read answered; want [2,1], as when it was paused", got)
			}
			b.run(t, click)
			b.waitFor(t, "the view live again", status, v.live)
			b.waitFor(t, "the newest first, and no gap", `const p = `+v.rows[len("return "):]+`;
				return [p[0], p.every((x, i) => i === 0 || x === p[i - 1] - 1)]`, "[1502,true]")
		})
	}
}

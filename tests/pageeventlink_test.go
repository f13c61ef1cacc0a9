package tests

import (
	"fmt"
	"strings"
	"testing"
)

// TestPageLinksToEachEventAndShowsItFromItsLink: the page had no link to
// an event. A stream's view showed its latest 50 events, and the earlier
// pages a user loaded were in no link, so a reload or a shared link
// showed the latest again; the live log's link to an event's stream
// ("order 0190f4b2… v70") opened the stream at its latest events, where
// an old event took a click of "Load earlier events" for every 50 since.
// Each event's version now links to it (#/streams/{id}?version=N), the
// live log's link too: the link shows that event first, marked, and the
// events before it, earlier ones on demand, and not the live tail (a link
// to the latest, live, is beside it, and later events load on demand
// too); a version past the stream's shows its latest events and says so.
func TestPageLinksToEachEventAndShowsItFromItsLink(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 120, "OrderNoted")
	link := "#/streams/" + id + "?version="

	b.openLiveStream(t, s, id, 120, "the live tail")
	b.waitFor(t, "a link to version 100 in its event", `return document.querySelector('#stream-events li[data-version="100"] .ev-type a').getAttribute('href')`,
		fmt.Sprintf("%q", link+"100"))
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log's link to version 70 of its stream", `const li = [...document.querySelectorAll('#log-events li')].find((li) => li.dataset.position === '70');
		return li ? li.querySelector('.ev-head a').getAttribute('href') : null`, fmt.Sprintf("%q", link+"70"))

	b.run(t, `[...document.querySelectorAll('#log-events li')].find((li) => li.dataset.position === '70').querySelector('.ev-head a').click(); return null`)
	want := make([]string, 50)
	for i := range want {
		want[i] = fmt.Sprint(70 - i)
	}
	b.waitFor(t, "version 70 and the 49 before it", versionsJS, "["+strings.Join(want, ",")+"]")
	b.waitFor(t, "version 70 marked as the one linked to", `return [...document.querySelectorAll('#stream-events li.target')].map((li) => li.dataset.version)`, `["70"]`)
	b.waitFor(t, "the status to say the tail is not followed", `return [document.getElementById('stream-status').textContent, document.getElementById('stream-pause').hidden]`,
		`["Shown from the link to version 70; not following the stream.",true]`)
	b.waitFor(t, "a link to the latest events, live", `const a = document.getElementById('stream-latest'); return [a.closest('[hidden]') === null, a.getAttribute('href')]`,
		fmt.Sprintf("[true,%q]", "#/streams/"+id))
	b.loadEveryEarlierEvent(t, 70)

	// Not the live tail: a new event is not shown here.
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderNoted")})
	b.waitFor(t, "the log's new position", `return document.getElementById('stat-position').textContent`, `"121"`)
	if got := b.run(t, `return document.querySelectorAll('#stream-events li').length`); got != "70" {
		t.Fatalf("the view of version 70 shows %s events once version 121 is written; want the 70 it showed", got)
	}

	// The link, opened afresh (a reload, or shared), shows the same.
	b.navigate(t, s.URL+"/"+link+"70")
	b.run(t, `location.reload(); return null`)
	b.waitFor(t, "version 70 first, after a reload", `return document.querySelector('#stream-events li')?.dataset.version`, `"70"`)

	b.run(t, `document.getElementById('stream-latest').click(); return null`)
	b.waitFor(t, "the live tail from the link to the latest", statusJS, `"Live at version 121: caught up"`)
	b.waitFor(t, "no event marked in the live tail", `return document.querySelectorAll('#stream-events li.target').length`, "0")

	// A version past the stream's: its latest, and a word of it.
	b.navigate(t, s.URL+"/"+link+"500")
	b.waitFor(t, "the latest event first", `return document.querySelector('#stream-events li')?.dataset.version`, `"121"`)
	b.waitFor(t, "a word of the version past the stream's", `return document.getElementById('error').textContent`,
		`"This stream has no version 500: it is at version 121."`)
	// Not a version: said, nothing read.
	b.navigate(t, s.URL+"/"+link+"x1")
	b.waitFor(t, "a word of the version that is none", `return [document.getElementById('error').textContent, document.querySelectorAll('#stream-events li').length]`,
		`["\"x1\" is not a version of a stream: a version is a whole number from 1.",0]`)
}

// TestPageEventLinkLoadsLaterEventsOnDemand: an event's link showed it and
// the events before it, and those after it only by way of the latest,
// live: from an old event, what came next was out of reach. "Load later
// events" reads them, a page at a time, above it, up to the stream's
// version when read; from the keyboard, the focus stays on the button,
// or, once it is hidden, goes to the last event loaded.
func TestPageEventLinkLoadsLaterEventsOnDemand(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 120, "OrderNoted")
	b.navigate(t, s.URL+"/#/streams/"+id+"?version=30")
	b.waitFor(t, "version 30 and the 29 before it", `const v = `+strings.TrimPrefix(versionsJS, "return ")+`;
		return [v.length, v[0], document.getElementById('stream-earlier').hidden, document.getElementById('stream-later').hidden]`, "[30,30,true,false]")
	b.run(t, `const b = document.getElementById('stream-later'); b.focus(); b.click(); return null`)
	b.waitFor(t, "50 later events above it, the focus kept", `const v = `+strings.TrimPrefix(versionsJS, "return ")+`;
		return [v.length, v[0], v.every((x, i) => x === v[0] - i), document.activeElement.id, document.getElementById('stream-said').textContent]`,
		`[80,80,true,"stream-later","Loaded 50 later events, versions 31 to 80."]`)
	b.run(t, `document.getElementById('stream-later').click(); return null`)
	b.waitFor(t, "the rest, the button gone, the focus on the last event loaded", `const v = `+strings.TrimPrefix(versionsJS, "return ")+`;
		return [v.length, v[0], v.every((x, i) => x === v[0] - i), document.getElementById('stream-later').hidden, document.activeElement.closest('li')?.dataset.version]`,
		`[120,120,true,true,"120"]`)
	b.waitFor(t, "version 30 still the one marked", `return [...document.querySelectorAll('#stream-events li.target')].map((li) => li.dataset.version)`, `["30"]`)
}

// TestPageEventLinkToAStreamThatDoesNotExistSaysSo: an event's link to a
// stream that does not exist (mistyped, or from a log since reset) said
// "This stream does not exist yet; its events will appear here when they
// are written" beside "No events; not following the stream": a user
// waited for events the view would never show. It says that the stream
// has no such event, and the link to its latest events, live, is there.
func TestPageEventLinkToAStreamThatDoesNotExistSaysSo(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	b.navigate(t, s.URL+"/#/streams/"+id+"?version=3")
	b.waitFor(t, "the view says the stream has no such event", `return [document.getElementById('error').textContent, document.getElementById('stream-status').textContent, document.getElementById('stream-latest').getAttribute('href')]`,
		fmt.Sprintf(`["This stream does not exist: it has no version 3. Its events will appear at the link to its latest events, live, once they are written.","No events; not following the stream.","#/streams/%s"]`, id))
}

package tests

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// failedRequestsJS lists the page's requests that the server answered
// with a 4xx or 5xx (the resource timings' responseStatus: same origin), as
// "status path": each one is a failed request in the browser's console.
const failedRequestsJS = `return performance.getEntriesByType('resource')
	.filter((r) => r.responseStatus >= 400).map((r) => r.responseStatus + ' ' + new URL(r.name).pathname + new URL(r.name).search)`

// TestPageLearnsTheLogsHeadWithoutAFailedRequest: the page learned the
// log's head with a subscription past its end, which the server refuses
// with a 409 that names the end: every page load logged a failed request
// in the browser's console, and a reader of the console took it for a
// fault. It now subscribes to the log with a filter that matches nothing
// and takes the head from its caught-up frame: the page loads, on either
// store, with no request answered 4xx or 5xx, and starts at the head.
func TestPageLearnsTheLogsHeadWithoutAFailedRequest(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := startServer(t, k.ServerEnv...)
		b := startBrowser(t, chromium, driver)
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
		b.navigate(t, s.URL+"/#/streams")
		b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"3"`)
		b.waitFor(t, "the stream listed", `return document.querySelectorAll('#streams-table tbody tr').length`, "1")
		if got := b.run(t, failedRequestsJS); got != "[]" {
			t.Fatalf("the page's requests answered 4xx or 5xx: %s; want none", got)
		}
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
		b.waitFor(t, "the log position following the head", `return document.getElementById('stat-position').textContent`, `"5"`)
		if got := b.run(t, failedRequestsJS); got != "[]" {
			t.Fatalf("the page's requests answered 4xx or 5xx: %s; want none", got)
		}
	})
}

// TestPageShowsTheLogWhenTheFilteredHeadProbeEndsUnanswered: the page's
// head probe is a subscription filtered on a stream type and an event
// type of its own. With the index of that pair dropped while serving
// (embedded store), the server answers it 200 and then ends it without a
// caught-up frame, while /readyz stays 200 and unfiltered reads are
// served: the page said "The server cannot be reached" and tried again
// forever. It now falls back to the old probe (the subscription past the
// log's end, refused with a 409 naming the end) whenever the filtered one
// ends or fails without a caught-up, and shows the log.
func TestPageShowsTheLogWhenTheFilteredHeadProbeEndsUnanswered(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	dataDir := t.TempDir()
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR="+dataDir)
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "tributary.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("DROP INDEX events_stream_type_event_type_position"); err != nil {
		t.Fatalf("drop the pair index: %v", err)
	}
	b := startBrowser(t, chromium, driver)
	b.navigate(t, s.URL+"/#/streams")
	b.waitFor(t, "the log position at the top", `return document.getElementById('stat-position').textContent`, `"3"`)
	b.waitFor(t, "the stream listed", `return document.querySelectorAll('#streams-table tbody tr').length`, "1")
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(2, "OrderNoted")})
	b.waitFor(t, "the log position following the head", `return document.getElementById('stat-position').textContent`, `"5"`)
}

// TestPageLearnsTheLogsHeadAtTheSubscriberCapWithoutA409: at the cap on
// subscribers the server refuses the page's filtered head probe (503),
// and the page fell back to subscribing past the log's end, which the
// server refuses with a 409 naming the end: the console showed a failed
// request that was no fault. The page now learns the head there from
// reads of the log a page of one event at a time, which no server
// refuses: it shows the log's head and history with no 409 (the 503s
// are the cap's own refusals of its live connection, which it waits out).
func TestPageLearnsTheLogsHeadAtTheSubscriberCapWithoutA409(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_MAX_SUBSCRIBERS=1")
	for range 37 { // a head that takes the search a few steps: 1, 2, 4 … 64, then back
		s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	}
	b := startBrowser(t, chromium, driver)
	release := s.holdASubscription(t) // the one place

	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the log position at the top, at the cap", `return document.getElementById('stat-position').textContent`, `"37"`)
	b.waitFor(t, "the log's history, at the cap", `const p = `+strings.TrimPrefix(positionsJS, "return ")+`;
		return [p.length, p[0], p[p.length - 1]]`, "[37,37,1]")
	failed := b.run(t, failedRequestsJS)
	if strings.Contains(failed, "409") {
		t.Fatalf("the page's requests answered 4xx or 5xx at the cap: %s; want no 409 (only the cap's 503s)", failed)
	}
	release()
	s.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(1, "OrderNoted")})
	b.waitFor(t, "the live log once a place is free", `return document.getElementById('stat-position').textContent`, `"38"`)
	if failed := b.run(t, failedRequestsJS); strings.Contains(failed, "409") {
		t.Fatalf("the page's requests answered 4xx or 5xx: %s; want no 409", failed)
	}
}

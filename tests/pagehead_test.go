package tests

import (
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

package tests

import (
	"slices"
	"testing"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestPageStoppedByARestoreWithNewAppendsPastItSaysToReload: the server
// restarts on a log that is not the one the page showed (a restore from an
// older backup: the first events the same, those after them gone), to which
// more was appended than the page had shown before the page reconnects.
// The page resumed after its last position, showed the new log's later
// events under the lost ones, and said "caught up". It now finds the event
// at its last position is another, stops, and says to reload, as it does
// where the new log ends before it.
func TestPageStoppedByARestoreWithNewAppendsPastItSaysToReload(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := startRestartableServer(t, k.ServerEnv...)
		restored := startServer(t, k.ServerEnv...) // the backup, restored: another database
		id := newID()
		kept := events(10, "Kept")
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: kept})
		restored.mustAppend(t, id, appendBody{StreamType: "order", Events: kept})
		s.mustAppend(t, id, appendBody{Events: events(10, "Lost")})
		restored.mustAppend(t, id, appendBody{Events: events(15, "New")})
		restoredEnv := restored.StoreEnv
		restored.stopClean(t)

		b := startBrowser(t, chromium, driver)
		b.navigate(t, s.URL+"/#/")
		b.waitFor(t, "the live log's 20 events", `return document.querySelectorAll('#log-events li').length`, "20")
		b.waitFor(t, "the live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 20: caught up"`)
		port := s.stopClean(t)
		startServer(t, append(slices.Clone(restoredEnv), "TRIBUTARY_ADDR=127.0.0.1:"+port)...)

		const want = `"Stopped: the event at position 20 on this server is not the one this page has shown: its database was reset or restored. Reload the page to follow its log."`
		b.waitFor(t, "the live log to say it stopped, and to reload", `return document.getElementById('log-status').textContent`, want)
		b.waitFor(t, "the error to say so too", `return document.getElementById('error').textContent.startsWith('The live log stopped: the event at position 20 ')`, "true")
		b.waitFor(t, "none of the new log's events past position 20 shown", `return [document.querySelectorAll('#log-events li').length,
			document.querySelector('#log-events li').dataset.position]`, `[20,"20"]`)
		b.waitFor(t, "the totals of the log the server has now", `return ['stat-position', 'stat-streams'].map((id) => document.getElementById(id).textContent)`, `["25","1"]`)
	})
}

package tests

import (
	"slices"
	"testing"
	"time"

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
		s, restore, _ := startALogToRestore(t, k.ServerEnv)
		b := startBrowser(t, chromium, driver)
		b.navigate(t, s.URL+"/#/")
		b.waitFor(t, "the live log's 20 events", `return document.querySelectorAll('#log-events li').length`, "20")
		b.waitFor(t, "the live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 20: caught up"`)
		restore()

		b.waitForWithin(t, restartWait, "the live log to say it stopped, and to reload", `return document.getElementById('log-status').textContent`, restoredWant)
		b.waitFor(t, "the error to say so too", `return document.getElementById('error').textContent.startsWith('The live log stopped: the event at position 20 ')`, "true")
		b.waitFor(t, "none of the new log's events past position 20 shown", `return [document.querySelectorAll('#log-events li').length,
			document.querySelector('#log-events li').dataset.position]`, `[20,"20"]`)
		b.waitFor(t, "the totals of the log the server has now", `return ['stat-position', 'stat-streams'].map((id) => document.getElementById(id).textContent)`, `["25","1"]`)
	})
}

// restartWait bounds the wait for the page to meet the restored server:
// its reconnection's backoff grows while a loaded machine restarts it.
const restartWait = 60 * time.Second

// restoredWant is what the page says once it finds the log restored under it.
const restoredWant = `"Stopped: the event at position 20 on this server is not the one this page has shown: its database was reset or restored. Reload the page to follow its log."`

// startALogToRestore starts a server with env on a log of 20 events of one
// stream, id, the first 10 of which are those of a backup, to which 15
// others were appended since; restore stops the server and starts the
// backup at its address.
func startALogToRestore(t *testing.T, env []string) (s *server, restore func(), id string) {
	t.Helper()
	s = startRestartableServer(t, env...)
	backup := startServer(t, env...) // another database
	id = newID()
	kept := events(10, "Kept")
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: kept})
	backup.mustAppend(t, id, appendBody{StreamType: "order", Events: kept})
	s.mustAppend(t, id, appendBody{Events: events(10, "Lost")})
	backup.mustAppend(t, id, appendBody{Events: events(15, "New")})
	backupEnv := backup.StoreEnv
	backup.stopClean(t)
	return s, func() {
		t.Helper()
		port := s.stopClean(t)
		startServer(t, append(slices.Clone(backupEnv), "TRIBUTARY_ADDR=127.0.0.1:"+port)...)
	}, id
}

// TestPageTabsTakingOverARestoredLogStopToo: the tab that follows the log
// for the page's others finds the log restored under it and stops; the
// next tab in line, a stream's view, takes over, finds it too, and stops,
// its tail showing none of the new log's versions.
func TestPageTabsTakingOverARestoredLogStopToo(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	s, restore, id := startALogToRestore(t, []string{"TRIBUTARY_MYSQL_DSN="})
	b := startBrowser(t, chromium, driver)
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the live log caught up", `return document.getElementById('log-status').textContent`, `"Live at position 20: caught up"`)
	first := b.window(t)
	b.newTab(t)
	b.openLiveStream(t, s, id, 20, "the second tab's stream, live")
	restore()
	b.waitForWithin(t, restartWait, "the stream's tail to say it stopped, and to reload", statusJS, restoredWant)
	b.waitFor(t, "none of the new log's versions", `return [...document.querySelectorAll('#stream-events li')].map((li) => Number(li.dataset.version)).some((v) => v > 20)`, "false")
	b.switchTo(t, first)
	b.waitFor(t, "the first tab's live log to say so too", `return document.getElementById('log-status').textContent`, restoredWant)
}

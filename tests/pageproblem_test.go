package tests

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/ssetest"
)

// recordStatusJS has the page keep every text the stream view's status
// shows, in window.statuses: a text shown for a moment is not missed
// between two polls.
const recordStatusJS = `const s = document.getElementById('stream-status');
	window.statuses = [s.textContent];
	new MutationObserver(() => window.statuses.push(s.textContent)).observe(s, {childList: true, characterData: true, subtree: true});
	return true`

// TestPageSaysTheProblemThatEndedItsLiveConnection: a subscription that a
// 503 of the database ends once open (here the log's head set behind its
// events, by hand) ends with an event: problem frame whose data is the
// problem, but the page passed over it and said only that the connection
// was lost, reconnecting, until the next connection was refused. Its
// status now says that the server ended the live log, with the problem's
// detail. The embedded store (the frame is the same on MySQL).
func TestPageSaysTheProblemThatEndedItsLiveConnection(t *testing.T) {
	t.Parallel()
	s, b, dataDir := pageLiveOnSQLite(t)

	// A subscription of the test's own, opened as the page's was, reads
	// the problem frame the page is sent.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/events?after=3", nil)
	req.Header.Set("Accept", "text/event-stream")
	sub, err := (&http.Client{Timeout: time.Minute}).Do(req) // a hang guard: the damage ends it
	if err != nil || sub.StatusCode != http.StatusOK {
		t.Fatalf("a subscription of the sound log: %v, %v; want 200", sub, err)
	}
	t.Cleanup(func() { sub.Body.Close() })

	setHeadBehind(t, dataDir)
	var p struct {
		Detail string `json:"detail"`
	}
	for parse := ssetest.NewParser(sub.Body, ""); ; {
		f, _, err := parse.Next()
		if err != nil {
			t.Fatalf("a subscription once the log's head was set behind its events: %v before an event: problem; want one", err)
		}
		if f.Event == "problem" {
			if err := json.Unmarshal([]byte(f.Data), &p); err != nil || p.Detail == "" {
				t.Fatalf("the problem frame's data: %q (%v); want a problem with a detail", f.Data, err)
			}
			break
		}
	}
	// The page says the detail as a 503's: without the advice to API clients.
	detail := strings.TrimSuffix(strings.TrimSuffix(p.Detail, "."), " Try again after Retry-After")
	b.waitFor(t, "the status to say the problem the live connection ended with",
		`return window.statuses.some((t) => t.startsWith('The server ended the live log: ') && t.includes(`+strconv.Quote(detail)+`))`, "true")
}

// pageLiveOnSQLite starts the server on the embedded store, in a data
// directory of its own, and a browser whose page shows a stream of 3
// events, caught up live, and records its status texts (recordStatusJS).
// It returns the server, the browser and the data directory.
func pageLiveOnSQLite(t *testing.T) (*server, *browser, string) {
	t.Helper()
	chromium, driver := browserPaths(t)
	dataDir := t.TempDir()
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR="+dataDir)
	b := startBrowser(t, chromium, driver)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail", statusJS, `"Live at version 3: caught up"`)
	b.run(t, recordStatusJS)
	return s, b, dataDir
}

// setHeadBehind sets the log's head of the embedded store in dataDir
// behind its events, by hand, as damage would.
func setHeadBehind(t *testing.T, dataDir string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dataDir, "tributary.db")+"?_pragma=busy_timeout(5000)")
	if err == nil {
		defer db.Close()
		_, err = db.Exec("UPDATE log_head SET position = 1 WHERE id = 1")
	}
	if err != nil {
		t.Fatalf("set the log's head behind its events: %v", err)
	}
}

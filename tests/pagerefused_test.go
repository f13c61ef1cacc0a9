package tests

import (
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPageRefusedWithNoRetryAfterSaysTheServerCannotServeTheLiveLog: a
// live connection refused with a 503 that has no Retry-After (damage, a
// log head behind its events, a missing index: "retrying will not help")
// made the page say "The server is busy (…)", as for a limit or an outage
// that passes. It now says that the server cannot serve the live log now,
// with the detail, and still tries again. The embedded store (the answer
// is the same on MySQL).
func TestPageRefusedWithNoRetryAfterSaysTheServerCannotServeTheLiveLog(t *testing.T) {
	t.Parallel()
	chromium, driver := browserPaths(t)
	dataDir := t.TempDir()
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR="+dataDir)
	b := startBrowser(t, chromium, driver)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(3, "OrderNoted")})
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the live tail", statusJS, `"Live at version 3: caught up"`)
	b.run(t, recordStatusJS)

	db, err := sql.Open("sqlite", filepath.Join(dataDir, "tributary.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("UPDATE log_head SET position = 1 WHERE id = 1"); err != nil {
		t.Fatalf("set the log's head behind its events: %v", err)
	}

	// A subscription of the test's own, opened as the page's next is, is
	// refused as that one is.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/events?after=3", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var p struct {
		Detail string `json:"detail"`
	}
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "" ||
		json.Unmarshal(text, &p) != nil || p.Detail == "" {
		t.Fatalf("a subscription once the log's head is behind its events: %d, Retry-After %q, %s; want 503 without "+
			"Retry-After and a problem with a detail", res.StatusCode, res.Header.Get("Retry-After"), text)
	}
	detail := strings.TrimSuffix(p.Detail, ".")
	b.waitFor(t, "the status to say the server cannot serve the live log, with the refusal's detail",
		`return window.statuses.some((t) => t.startsWith('The server cannot serve the live log now: ') && t.includes(`+
			strconv.Quote(detail)+`) && t.includes('Trying again in '))`, "true")
	if got := b.run(t, `return window.statuses.filter((t) => t.startsWith('The server is busy')).join("\n")`); got != `""` {
		t.Errorf("the page's status said %q; want no word of the server being busy for a refusal no retry mends", got)
	}
}

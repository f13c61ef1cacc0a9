package tests

import (
	"encoding/json"
	"io"
	"net/http"
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
	s, b, dataDir := pageLiveOnSQLite(t)

	setHeadBehind(t, dataDir)

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

package http_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnAccessLogLineIsBoundedWhateverTheRequestsLength: the access log
// wrote a request's path and query whole, so one unauthenticated request
// with a path or a query of a megabyte (which net/http takes, up to its
// header limit) wrote a line of a megabyte, which log shippers split or
// drop, and any client could fill the disk at that rate. Each is cut now,
// marked as cut with its length, as a problem's detail is.
func TestAnAccessLogLineIsBoundedWhateverTheRequestsLength(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	long := strings.Repeat("a", 200<<10)
	getEach(t, srv.URL,
		"/streams/"+long,
		"/events?stream_type="+long,
		"/events?"+strings.Repeat("x&", 100<<10),
		"/"+strings.Repeat("é", 100<<10),
	)
	untilRequestsLogged(logs, 4)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 4 {
		t.Fatalf("%d log lines; expected one a request:\n%.2000s", len(lines), logs.String())
	}
	for _, line := range lines {
		if len(line) > 4<<10 {
			t.Errorf("a log line of %d bytes; expected at most 4 KiB whatever the request: %.300s…", len(line), line)
		}
	}
	// A segment that parses as nothing is logged by its length alone
	// (TestTheLogWritesOnlyTheValuesThatParse); a long query is cut.
	if !strings.Contains(logs.String(), `"path":"/streams/<invalid: 204800 bytes>"`) || !strings.Contains(logs.String(), "bytes in all)") {
		t.Errorf("the long path is not logged by its length, or the long query not cut and marked so: %.600s", logs.String())
	}
}

// TestTheLogQuotesThePathAsSent: the access log wrote the path decoded, so
// /streams/ID%2Fevents, a 400 (an encoded slash stays inside its segment:
// a stream id that is no UUID), was logged as /streams/ID/events, the route
// that serves, and an operator could not tell the two apart; a 503's
// "request failed" line did the same. Each line quotes the path as sent
// now, cut as before, a segment that parses as nothing by its length
// (TestTheLogWritesOnlyTheValuesThatParse). From a black-box tester.
func TestTheLogQuotesThePathAsSent(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	store := teststore.SQLite.Open(t)
	srv := httptest.NewServer(esthttp.New(unavailableStore{store}, esthttp.Options{
		OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	id := uuid.NewString()
	sent := []string{
		"/streams/" + id + "%2Fevents", // a 400
		"/%65vents",                    // the same path as /events: a 200
		"/streams/%" + strconv.FormatInt(int64(id[0]), 16) + id[1:], // a 503, logged twice
	}
	logged := []string{"/streams/<invalid: 45 bytes>", sent[1], sent[2]}
	getEach(t, srv.URL, sent...)
	untilRequestsLogged(logs, len(sent))
	out := logs.String()
	for i, target := range sent {
		found := false
		for line := range strings.Lines(out) {
			found = found || strings.Contains(line, `"msg":"request",`) && strings.Contains(line, `"path":"`+logged[i]+`"`)
		}
		if !found {
			t.Errorf("no access log line quotes the path %s as %s; the log:\n%s", target, logged[i], out)
		}
	}
	if !strings.Contains(out, `"msg":"request failed","method":"GET","path":"`+sent[2]+`"`) {
		t.Errorf("the 503's request failed line does not quote the path %s as sent; the log:\n%s", sent[2], out)
	}
}

// TestProbesAndScrapesThatSucceedAreLoggedAtDebug: every health probe and
// metrics scrape was an INFO access line (the image's HEALTHCHECK, two
// Kubernetes probes and a scrape: about 49,000 lines a day an instance),
// and the only way to quiet them dropped every request's line. A 2xx
// answer of /healthz, /readyz or /metrics is logged at DEBUG; other routes,
// and a probe's failure, as before.
func TestProbesAndScrapesThatSucceedAreLoggedAtDebug(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Metrics: metrics.New("test"), Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}))
	t.Cleanup(srv.Close)
	targets := []string{"/healthz", "/readyz", "/metrics", "/events", "/healthz?x=1"}
	getEach(t, srv.URL, targets...)
	untilRequestsLogged(logs, len(targets))
	want := map[string]string{`"route":"/healthz","path":"/healthz","query":"",`: "DEBUG", `"route":"/readyz"`: "DEBUG", `"route":"/metrics"`: "DEBUG",
		`"route":"/events"`: "INFO", `"route":"/healthz","path":"/healthz","query":"REDACTED"`: "INFO"}
	for match, level := range want {
		found := false
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, match) {
				found = true
				if !strings.Contains(line, `"level":"`+level+`"`) {
					t.Errorf("the access line of %s: expected level %s, got %s", match, level, line)
				}
			}
		}
		if !found {
			t.Errorf("no access line holding %s in:\n%.3000s", match, logs.String())
		}
	}
}

// getEach sends GET for each target to the server at url, one after the
// other, and reads none of the answers.
func getEach(t *testing.T, url string, targets ...string) {
	t.Helper()
	for _, target := range targets {
		resp, err := http.Get(url + target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
}

// untilRequestsLogged waits until logs holds n access lines, or 30 s have
// passed: a line is logged just after its response is sent. The caller's
// checks of the log say what is missing.
func untilRequestsLogged(logs *testlog.Buffer, n int) {
	for deadline := time.Now().Add(30 * time.Second); strings.Count(logs.String(), `"msg":"request"`) < n && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

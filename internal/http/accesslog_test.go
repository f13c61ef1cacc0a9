package http_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
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
	for _, target := range []string{
		"/streams/" + long,
		"/events?stream_type=" + long,
		"/events?" + strings.Repeat("x&", 100<<10),
		"/" + strings.Repeat("é", 100<<10),
	} {
		resp, err := http.Get(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A line is logged just after its response is sent.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), `"msg":"request"`) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) < 4 {
		t.Fatalf("%d log lines; expected one a request:\n%.2000s", len(lines), logs.String())
	}
	for _, line := range lines {
		if len(line) > 4<<10 {
			t.Errorf("a log line of %d bytes; expected at most 4 KiB whatever the request: %.300s…", len(line), line)
		}
	}
	if !strings.Contains(logs.String(), `"path":"/streams/aaaa`) || !strings.Contains(logs.String(), "bytes in all)") {
		t.Errorf("the long path is not logged cut and marked so: %.600s", logs.String())
	}
}

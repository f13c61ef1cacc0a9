package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestTheStoresLogThroughTheServersRedaction: the stores' lines quote what
// a client chose (the WARN of a stream read below its version its
// stream_id, a driver's error its arguments), which may be an access token
// sent in its place, as a token may be shaped as a stream id. The stores
// pass their lines through a redaction; this checks that the server gives
// them its tokens': a token sent as a stream id never reaches the log.
// MySQL (the WARN is the guarded writer's).
func TestTheStoresLogThroughTheServersRedaction(t *testing.T) {
	secret := uuid.NewString() // a token that is a stream id as well
	dsn := mysqltest.NewDatabase(t)
	t.Setenv("TRIBUTARY_MYSQL_DSN", dsn)
	t.Setenv("TRIBUTARY_API_TOKENS", "app:write:"+secret)
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	logs, addr, stop := serveForRedaction(t)
	readBelowItsVersion(t, dsn, logs, addr, secret)
	stop()
	if out := logs.String(); strings.Contains(out, secret) {
		t.Errorf("the store's log line quotes an access token; want it redacted. The log says:\n%s", out)
	}
}

// serveForRedaction runs the binary's serve on the environment the test
// set, its log in logs, until it listens, and returns its address and a
// stop that cancels it (SIGTERM) and waits for it to end.
func serveForRedaction(t *testing.T) (*testlog.Buffer, string, func()) {
	t.Helper()
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- run(ctx, context.Background(), []string{"serve"}, logs) }()
	waitListening(t, logs)
	addr := regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if addr == nil {
		t.Fatalf("no address in the listening line:\n%s", logs.String())
	}
	return logs, addr[1], func() {
		t.Helper()
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("the stop did not end")
		}
	}
}

// readBelowItsVersion makes the server at addr, on the MySQL database dsn,
// read a stream below its version, with token both its access token and
// the stream's id: it appends two events, deletes the second behind the
// server's back, and reads the stream until logs hold the store's WARN,
// which quotes the stream's id.
func readBelowItsVersion(t *testing.T, dsn string, logs *testlog.Buffer, addr, token string) {
	t.Helper()
	base := "http://" + addr + "/streams/" + token
	send := func(method, url, body string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s; want success", method, url, resp.StatusCode, b)
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			t.Fatalf("%s %s: not JSON: %s", method, url, b)
		}
	}
	send("POST", base+"/events", `{"stream_type":"t","events":[{"type":"a","data":{}},{"type":"b","data":{}}]}`)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := uuid.MustParse(token)
	if _, err := db.Exec("DELETE FROM events WHERE stream_id = ? AND stream_version = 2", id[:]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), "read below the version"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN of a stream read below its version; the log says:\n%s", logs.String())
		}
		send("GET", base+"/events", "")
	}
}

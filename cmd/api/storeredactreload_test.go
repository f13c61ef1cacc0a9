package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestTheStoresLogRedactsATokenAddedByAReload: the stores' lines (and the
// driver's) were redacted with the tokens of the start alone: a token
// added to TRIBUTARY_API_TOKENS_FILE while serving was let in, and, sent
// as a stream id, quoted in clear by the store's WARN of a stream read
// below its version. The stores redact with the set in force, and every
// token it has held. MySQL (the WARN is the guarded writer's).
func TestTheStoresLogRedactsATokenAddedByAReload(t *testing.T) {
	first, added := "first-0123456789abcdef", uuid.NewString() // the added token is a stream id as well
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("app:write:"+first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := mysqltest.NewDatabase(t)
	t.Setenv("TRIBUTARY_MYSQL_DSN", dsn)
	t.Setenv("TRIBUTARY_API_TOKENS_FILE", path)
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, context.Background(), []string{"serve"}, logs) }()
	waitListening(t, logs)
	addr := regexp.MustCompile(`"msg":"listening","addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if addr == nil {
		t.Fatalf("no address in the listening line:\n%s", logs.String())
	}
	if err := os.WriteFile(path+".new", []byte("app:write:"+first+"\nnew:write:"+added+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), "access tokens reloaded"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload of the tokens file within a minute; the log says:\n%s", logs.String())
		}
	}
	base := "http://" + addr[1] + "/streams/" + added
	send := func(method, url, body string) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+added)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s with the added token: expected success; got %d %s", method, url, resp.StatusCode, b)
		}
	}
	send("POST", base+"/events", `{"stream_type":"t","events":[{"type":"a","data":{}},{"type":"b","data":{}}]}`)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := uuid.MustParse(added)
	if _, err := db.Exec("DELETE FROM events WHERE stream_id = ? AND stream_version = 2", id[:]); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), "read below the version"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no WARN of a stream read below its version; the log says:\n%s", logs.String())
		}
		send("GET", base+"/events", "")
	}
	cancel() // SIGTERM
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the stop did not end")
	}
	if out := logs.String(); strings.Contains(out, added) {
		t.Errorf("the store's log line quotes the token the reload added; want it redacted. The log says:\n%s", out)
	}
}

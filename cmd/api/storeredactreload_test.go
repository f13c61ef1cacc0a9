package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/mysqltest"
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
	logs, addr, stop := serveForRedaction(t)
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
	readBelowItsVersion(t, dsn, logs, addr, added)
	stop()
	if out := logs.String(); strings.Contains(out, added) {
		t.Errorf("the store's log line quotes the token the reload added; want it redacted. The log says:\n%s", out)
	}
}

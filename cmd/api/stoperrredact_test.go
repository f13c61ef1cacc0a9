package main

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStartThatFailsQuotingTheDSNsPasswordDoesNotReturnIt: a failure
// other than a refusal of the user (an authentication plugin's, a proxy's
// error of another number) that quotes the password the client sent
// stopped the start at once, and its error, which main writes to stderr
// as text, quoted it: only a refusal's was redacted, and the log's line
// now is. The error run returns has the DSN's password replaced too.
func TestAStartThatFailsQuotingTheDSNsPasswordDoesNotReturnIt(t *testing.T) {
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const password = "Plugin-Quoted-9e27c1b4"
	cfg.Passwd = password
	// The proxy answers the handshake response with an error that is no
	// refusal of the user (1251: the client's authentication protocol is
	// not supported), quoting the password.
	failure := mysqltest.ErrorPacket(1251, "Client does not support authentication protocol requested by server (sent '"+password+"')")
	failure[3] = 2
	var answered atomic.Bool
	proxy.AnswerInstead(func(chunk []byte) bool {
		is := len(chunk) > 36 && chunk[3] == 1 && bytes.Contains(chunk, []byte(cfg.User+"\x00"))
		if is {
			answered.Store(true)
		}
		return is
	}, failure)
	t.Setenv("TRIBUTARY_MYSQL_DSN", cfg.FormatDSN())
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "2s")
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	logs := &testlog.Buffer{}
	err = run(context.Background(), context.Background(), []string{"serve"}, logs)
	if !answered.Load() || err == nil {
		t.Fatalf("the proxy answered no handshake with the failure, or the start served (%v); the test did not reach its case:\n%s", err, logs.String())
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("the start's error, which main writes to stderr, quotes the DSN's password: %q", err)
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the log quotes the DSN's password:\n%s", logs.String())
	}
	if !strings.Contains(err.Error(), "1251") {
		t.Errorf("the start's error %q does not tell the failure (1251)", err)
	}
}

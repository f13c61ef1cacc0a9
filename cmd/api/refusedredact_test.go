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

// TestARefusalQuotingTheDSNsPasswordDoesNotLogIt: start-up's retries of a
// refused user log the refusal in the server's words, and fail in them,
// trusting that those words never hold the password. A proxy in front of
// the database (or a server's authentication plugin) whose refusal quotes
// what it was sent put the DSN's password in the WARN line and in the
// start's last ERROR, on stdout and stderr. The DSN's password is now
// replaced wherever a refusal quotes it; the refusal is still told.
func TestARefusalQuotingTheDSNsPasswordDoesNotLogIt(t *testing.T) {
	const password = "Rotated-Secret-4f9c2"
	logs, _, err := startRefusedQuoting(t, password)
	if strings.Contains(err.Error(), password) || strings.Contains(logs, password) {
		t.Errorf("the DSN's password, quoted by the database's refusal, is in the start's error %q or its log:\n%s", err, logs)
	}
	for _, want := range []string{"refused the DSN's user", "Access denied for user"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the start's error: %q; want it to say %q", err, want)
		}
	}
	if !strings.Contains(logs, "refuses the DSN's user") {
		t.Errorf("no WARN of the refusal in the log:\n%s", logs)
	}
}

// TestARefusalQuotingAShortDSNPasswordDoesNotLogIt: a password shorter than
// eight characters was left in the refusal's WARN line, and its ERROR, in
// clear; or, in the start's error, every occurrence of its characters
// replaced, the refusal's words mangled. It is redacted where the refusal
// quotes it, and the refusal's other words are as the proxy sent them.
func TestARefusalQuotingAShortDSNPasswordDoesNotLogIt(t *testing.T) {
	// Each is also a part of the refusal's other words.
	for _, password := range []string{"e", "ess", "passwor"} {
		logs, user, err := startRefusedQuoting(t, password)
		if strings.Contains(logs, "'"+password+"'") || strings.Contains(err.Error(), "'"+password+"'") {
			t.Errorf("password %q, quoted by the database's refusal, is in the start's error %q or its log:\n%s", password, err, logs)
		}
		want := "Access denied for user '" + user + "'@'127.0.0.1' (using password '" + redactedPassword + "')"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("password %q: the start's error %q; want it to say %q", password, err, want)
		}
		if !strings.Contains(logs, "refuses the DSN's user") || !strings.Contains(logs, `"msg":"starting","command":"serve"`) {
			t.Errorf("password %q: the start's ordinary lines are not as logged:\n%s", password, logs)
		}
	}
}

// startRefusedQuoting starts the server against a proxy that refuses the
// DSN's user, quoting password, the DSN's, and returns the start's log,
// the DSN's user and its error.
func startRefusedQuoting(t *testing.T, password string) (logs, user string, err error) {
	t.Helper()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Passwd = password
	// The proxy answers the client's handshake response (sequence 1, the
	// user's name in it) with a refusal that quotes the password, as the
	// server's answer to it (sequence 2).
	refusal := mysqltest.ErrorPacket(1045, "Access denied for user '"+cfg.User+"'@'127.0.0.1' (using password '"+password+"')")
	refusal[3] = 2
	var answered atomic.Bool
	proxy.AnswerInstead(func(chunk []byte) bool {
		is := len(chunk) > 36 && chunk[3] == 1 && bytes.Contains(chunk, []byte(cfg.User+"\x00"))
		if is {
			answered.Store(true)
		}
		return is
	}, refusal)

	t.Setenv("TRIBUTARY_MYSQL_DSN", cfg.FormatDSN())
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "1s")
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	var buf testlog.Buffer
	err = run(context.Background(), context.Background(), []string{"serve"}, &buf)
	if !answered.Load() {
		t.Fatalf("the proxy answered no handshake with the refusal (the start: %v); the test did not reach its case:\n%s", err, buf.String())
	}
	if err == nil {
		t.Fatal("a start whose user the database refuses: it served; want it to fail at the start-up timeout")
	}
	return buf.String(), cfg.User, err
}

package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestATryCutByTheStartupTimeoutAfterRefusalsIsNotToldAsRefused: once the
// DSN's user had been refused, a last try that the start-up timeout cut
// (a database that then stopped answering, or took the user at last and
// was slow to finish the start) failed the start saying the user was
// refused "on every try" and to check the password: the operator mended
// a password that worked, and not the database. The start now says that
// the refusals ended and that the last try did not finish within the
// timeout, with the last refusal and the last try's error.
func TestATryCutByTheStartupTimeoutAfterRefusalsIsNotToldAsRefused(t *testing.T) {
	t.Parallel()
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	parsed, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	refusal := mysqltest.ErrorPacket(1045, "Access denied for user '"+parsed.User+"'@'127.0.0.1' (using password: YES)")
	refusal[3] = 2 // the answer to the handshake response
	proxy.AnswerInstead(func(chunk []byte) bool {
		return len(chunk) > 36 && chunk[3] == 1 && bytes.Contains(chunk, []byte(parsed.User+"\x00"))
	}, refusal)
	cfg := config.Defaults()
	cfg.MySQLDSN = dsn
	cfg.StartupTimeout = 4 * time.Second
	var logs testlog.Buffer
	done := make(chan error, 1)
	go func() {
		store, err := openMySQL(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New("test"), false)
		if err == nil {
			store.Close()
		}
		done <- err
	}()
	// Once refused, the database stops answering: the next try hangs
	// until the start-up timeout cuts it.
	for !strings.Contains(logs.String(), "refuses the DSN's user") {
		select {
		case err := <-done:
			t.Fatalf("openMySQL ended (%v) before it logged a refusal:\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	proxy.Stall()
	proxy.AnswerInstead(nil, nil)
	t.Cleanup(proxy.Resume)
	err = <-done
	if err == nil {
		t.Fatal("openMySQL with the database stalled after refusals: it opened")
	}
	if strings.Contains(err.Error(), "on every try") {
		t.Errorf("openMySQL whose last try was cut, not refused: %q; want it not to say the user was refused on every try", err)
	}
	for _, want := range []string{"Access denied", "last try", "within 4s", config.Var("StartupTimeout")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("openMySQL whose last try was cut after refusals: %q; want it to say %q", err, want)
		}
	}
}

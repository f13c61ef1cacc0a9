package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStartWhoseLastTryTheTimeoutCutSaysWhatTheTriesBeforeMet: a read
// replica that refused every connection, and a last try the start-up
// timeout cut short on the primary (begun with little of it left, on a
// slow machine), failed the start blaming the primary alone ("connect to
// MySQL at <primary>: i/o timeout"), the replica nowhere in the error: an
// operator was sent to a primary that answered. The error now says the
// last try was cut short and what the try before it met.
func TestAStartWhoseLastTryTheTimeoutCutSaysWhatTheTriesBeforeMet(t *testing.T) {
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:1" // nothing listens: refused at once
	t.Setenv("TRIBUTARY_MYSQL_DSN", dsn)
	t.Setenv("TRIBUTARY_MYSQL_READ_DSN", cfg.FormatDSN())
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "3s")
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	var logs testlog.Buffer
	// Once a try has met the replica's refusal, the primary goes silent:
	// every later try is cut by the timeout on it.
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		for !strings.Contains(logs.String(), "connect to the read replica") {
			time.Sleep(5 * time.Millisecond)
		}
		proxy.Stall()
	}()
	t.Cleanup(proxy.Resume)
	err = run(context.Background(), context.Background(), []string{"serve"}, &logs)
	<-stalled
	if err == nil {
		t.Fatal("a start whose read replica refuses every connection: it served")
	}
	for _, want := range []string{"TRIBUTARY_STARTUP_TIMEOUT", "cut short", "connect to the read replica at 127.0.0.1:1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("a start whose last try the timeout cut, the tries before refused by the read replica: expected its error to say %q, got %v", want, err)
		}
	}
}

package main

import (
	"context"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestAStartWaitingForTheReadReplicaSaysSoInItsWarning: a read replica
// that refused every connection at start, the primary answering, was
// waited for under the warning "database not reachable yet; retrying": an
// operator looked at the primary, which answered. The warning names the
// read replica and its setting; the error beside it already did.
func TestAStartWaitingForTheReadReplicaSaysSoInItsWarning(t *testing.T) {
	dsn := mysqltest.NewDatabase(t)
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:1" // nothing listens: refused at once
	t.Setenv("TRIBUTARY_MYSQL_DSN", dsn)
	t.Setenv("TRIBUTARY_MYSQL_READ_DSN", cfg.FormatDSN())
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "2s")
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	var logs testlog.Buffer
	if err := run(context.Background(), context.Background(), []string{"serve"}, &logs); err == nil {
		t.Fatal("a start whose read replica refuses every connection: it served")
	}
	var warned bool
	for _, l := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(l, `"level":"WARN"`) || !strings.Contains(l, "not reachable yet") {
			continue
		}
		warned = true
		if strings.Contains(l, `"msg":"database not reachable yet`) || !strings.Contains(l, "read replica (TRIBUTARY_MYSQL_READ_DSN) not reachable yet") {
			t.Errorf("the warning of a start waiting for its read replica, the primary answering: %s; want it to name the read replica and TRIBUTARY_MYSQL_READ_DSN, not \"database\"", l)
		}
	}
	if !warned {
		t.Errorf("a start waiting for its read replica logged no \"not reachable yet\" warning:\n%s", logs.String())
	}
}

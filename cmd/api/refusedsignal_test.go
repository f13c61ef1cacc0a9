package main

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestASignalDuringTheRetriesOfARefusedUserStopsCleanly: a stop (SIGTERM)
// while start-up retries a refused user, in a back-off of seconds and the
// start-up timeout an hour away, ends the start at once as one while the
// database is out of reach does: nothing listens, exit 0, the stop logged
// with the refusal; not the back-off waited out, nor the timeout.
func TestASignalDuringTheRetriesOfARefusedUserStopsCleanly(t *testing.T) {
	dsn, proxy := mysqltest.NewDatabaseBehindProxy(t)
	parsed, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	refusal := mysqltest.ErrorPacket(1045, "Access denied for user '"+parsed.User+"'@'127.0.0.1' (using password: YES)")
	refusal[3] = 2 // the answer to the handshake response
	var tries atomic.Int64
	proxy.AnswerInstead(func(chunk []byte) bool {
		is := len(chunk) > 36 && chunk[3] == 1 && bytes.Contains(chunk, []byte(parsed.User+"\x00"))
		if is {
			tries.Add(1)
		}
		return is
	}, refusal)
	t.Setenv("TRIBUTARY_MYSQL_DSN", dsn)
	t.Setenv("TRIBUTARY_STARTUP_TIMEOUT", "1h")
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	logs := &testlog.Buffer{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- run(ctx, context.Background(), []string{"serve"}, logs) }()
	// Four tries (250 ms, 500 ms, 1 s waited between them): the signal
	// comes in a back-off of seconds.
	for tries.Load() < 4 {
		select {
		case err := <-done:
			t.Fatalf("the start ended (%v) before the signal:\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	var got error
	select {
	case got = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the start did not end within a minute of the signal")
	}
	if got != nil {
		t.Errorf("a signal during the retries of a refused user: %v; want a clean stop (nil: exit 0)", got)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"stopped"`) || !strings.Contains(out, "refused the DSN's user") || strings.Contains(out, `"msg":"listening"`) {
		t.Errorf("a signal during the retries of a refused user: want a stop logged with the refusal, nothing listening:\n%s", out)
	}
}

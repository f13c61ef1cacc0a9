package main

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/testlog"
)

// TestTheMySQLDriversLinesGoThroughTheServersRedaction: the driver's own
// lines (a packet error, a dead idle session dropped) may quote what a
// statement or a connection carried, and a client may send a token where
// a stream id goes. The driver's logger was set before the tokens were
// read, to the plain logger: its lines, unlike the store's, reached the
// log unredacted. Once serving, a line the driver logs that quotes a
// token, as sent or percent-encoded, is redacted as the store's lines
// are. MySQL only: the embedded store has no driver logger.
func TestTheMySQLDriversLinesGoThroughTheServersRedaction(t *testing.T) {
	secret := "drv-token-" + strings.Repeat("x7", 12) + "/+="
	t.Setenv("TRIBUTARY_MYSQL_DSN", mysqltest.NewDatabase(t))
	t.Setenv("TRIBUTARY_API_TOKENS", "app:write:"+secret)
	t.Setenv("TRIBUTARY_ADDR", "127.0.0.1:0")
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, context.Background(), []string{"serve"}, logs) }()
	waitListening(t, logs)
	// The driver's logger, as every connection of the store's gets it.
	driver := mysql.NewConfig().Logger
	driver.Print("packets.go:58 read packet for stream "+secret+": ", errors.New("unexpected EOF"))
	driver.Print("packets.go:100 write: ", errors.New("statement for "+url.QueryEscape(secret)+" cut"))
	cancel() // SIGTERM
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the stop did not end")
	}
	out := logs.String()
	if strings.Contains(out, secret) || strings.Contains(out, url.QueryEscape(secret)) {
		t.Errorf("the MySQL driver's line quotes an access token; want it redacted. The log says:\n%s", out)
	}
	if n := strings.Count(out, `"msg":"mysql driver: packets.go:`); n != 2 || strings.Count(out, "REDACTED") < 2 {
		t.Errorf("want the driver's 2 lines logged, each with REDACTED in the token's place; the log says:\n%s", out)
	}
}

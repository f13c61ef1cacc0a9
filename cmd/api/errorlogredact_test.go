package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestNetHTTPsOwnLinesGoThroughTheServersRedaction: net/http logs some
// lines itself (http.Server.ErrorLog: a panic that escaped a handler, with
// its value, which may quote what a request sent; a TLS handshake's error;
// a handler's mistakes), and they went to the log as written, past the
// redaction every line of the HTTP layer's goes through: a token a client
// sent where net/http quoted it reached the log whole. Each server's
// ErrorLog (the API's and the debug listener's) now redacts a token, as
// sent or percent-encoded, as the other lines do.
func TestNetHTTPsOwnLinesGoThroughTheServersRedaction(t *testing.T) {
	t.Parallel()
	secret := "errlog-token-" + strings.Repeat("q4", 12) + "/+="
	tokens := []esthttp.Token{{Name: "app", Role: esthttp.RoleWrite, Secret: secret}}
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.DebugAddr = "127.0.0.1:0"
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	servers := make(chan *http.Server, 2)
	hooks := serveHooks{server: func(srv *http.Server) { servers <- srv }}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- serveOn(ctx, context.Background(), cfg, hooks, tokens, teststore.SQLite.Open(t).(closableStore), nil, log, metrics.New("test"))
	}()
	waitListening(t, logs)
	for i := range 2 {
		srv := <-servers
		if srv.ErrorLog == nil {
			t.Fatalf("server %d has no ErrorLog: net/http would write its lines to stderr, unredacted", i)
		}
		srv.ErrorLog.Printf("http: panic serving 127.0.0.1:1234: bad header Authorization: Bearer %s", secret)
		srv.ErrorLog.Printf("http: TLS handshake error from 127.0.0.1:1234: %s", url.QueryEscape(secret))
	}
	stop() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the stop: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the stop did not end")
	}
	out := logs.String()
	if strings.Contains(out, secret) || strings.Contains(out, url.QueryEscape(secret)) {
		t.Errorf("net/http's own line quotes an access token; want it redacted. The log says:\n%s", out)
	}
	if n := strings.Count(out, `"msg":"http: `); n != 4 || strings.Count(out, "REDACTED") < 4 {
		t.Errorf("want net/http's 4 lines logged, each with REDACTED in the token's place; got %d. The log says:\n%s", n, out)
	}
}

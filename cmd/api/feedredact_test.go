package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// quotingTailStore is a store whose tail cannot read the log's head, with
// an error that quotes what a client sent: an access token where a stream
// id goes, as a driver's error may quote a statement's argument.
type quotingTailStore struct {
	closableStore
	quote string
}

func (q quotingTailStore) Tail() eventstore.LogTail {
	return quotingTail{q.closableStore.Tail(), q.quote}
}

type quotingTail struct {
	eventstore.LogTail
	quote string
}

func (q quotingTail) Head(context.Context) (int64, error) {
	return 0, errors.New("read log head: no stream " + q.quote)
}

// TestTheLiveFeedLogsThroughTheServersRedaction: the live feed quotes its
// store's errors, which may hold what a client sent, and redacts them with
// the HTTP layer's redaction of access tokens (fanout.Options.Redact). The
// feed's own tests give it a Redact; this one checks that the server gives
// the feed its tokens' redaction: a token in the feed's error never reaches
// its log line.
func TestTheLiveFeedLogsThroughTheServersRedaction(t *testing.T) {
	t.Parallel()
	const secret = "feed-redact-s3cret-0123456789abcdef"
	tokens := []esthttp.Token{{Name: "app", Role: esthttp.RoleWrite, Secret: secret}}
	store := quotingTailStore{closableStore: &closedByTest{teststore.SQLite.Open(t).(closableStore)}, quote: secret}
	cfg := config.Defaults()
	cfg.Addr = "127.0.0.1:0"
	cfg.PollInterval = 10 * time.Millisecond
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, context.Background(), cfg, tokens, store, nil, log, metrics.New("test")) }()
	waitListening(t, logs)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(logs.String(), "live feed: cannot read the log head"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the live feed never logged its failed read of the head; the log says:\n%s", logs.String())
		}
	}
	cancel() // SIGTERM
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the stop did not end")
	}
	out := logs.String()
	if strings.Contains(out, secret) {
		t.Errorf("the live feed's log line quotes an access token; want it redacted. The log says:\n%s", out)
	}
	if !strings.Contains(out, "no stream REDACTED") {
		t.Errorf("the live feed's log line does not say where the token was redacted (no stream REDACTED); the log says:\n%s", out)
	}
}

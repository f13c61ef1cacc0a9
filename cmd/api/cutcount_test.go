package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestADrainCutBySecondSignalSaysWhatItCut: the WARN "drain cut short by a
// second signal; cutting what still runs" carried "error":"context
// canceled", the cut's own context, which says nothing of what was cut.
// It says how many requests (subscriptions among them) were still running.
// The store is the embedded one: the line is the stop's, whatever the store.
func TestADrainCutBySecondSignalSaysWhatItCut(t *testing.T) {
	t.Parallel()
	store := &heldUntilCut{closableStore: teststore.SQLite.Open(t).(closableStore), entered: make(chan string, 2)}
	cutCtx, cut := context.WithCancel(context.Background())
	defer cut()
	srv := serveToStop(t, store, cutCtx, 60*time.Second, 60*time.Second)
	go func() {
		body := strings.NewReader(`{"stream_type":"t","events":[{"type":"Held","data":{}}]}`)
		if resp, err := http.Post(srv.base+"/streams/"+uuid.NewString()+"/events", "application/json", body); err == nil {
			resp.Body.Close()
		}
	}()
	go func() {
		if resp, err := http.Get(srv.base + "/streams/" + uuid.NewString()); err == nil {
			resp.Body.Close()
		}
	}()
	for range 2 {
		select {
		case <-store.entered:
		case <-time.After(30 * time.Second):
			t.Fatal("the append and the read never reached the store")
		}
	}
	srv.stop() // SIGTERM: the drain waits for both
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(srv.logs.String(), `"msg":"shutting down"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shutting down line; the log says:\n%s", srv.logs.String())
		}
	}
	cut() // the second signal
	select {
	case <-srv.done:
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after the second signal")
	}
	var found bool
	for l := range strings.Lines(srv.logs.String()) {
		var line struct{ Msg, Error string }
		if json.Unmarshal([]byte(l), &line) != nil || !strings.HasPrefix(line.Msg, "drain cut short by a second signal") {
			continue
		}
		found = true
		if !strings.HasPrefix(line.Error, "2 requests still running") {
			t.Errorf("the drain cut with an append and a read held: expected its WARN to say \"2 requests still running\", got error %q", line.Error)
		}
	}
	if !found {
		t.Errorf("no \"drain cut short by a second signal\" line; the log says:\n%s", srv.logs.String())
	}
}

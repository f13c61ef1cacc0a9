package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/config"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStopCutAtItsTimeoutClosesTheStoreWithinIt: the store's close at the
// end of a stop got a second at least from when it began, so a stop whose
// append was cut in the timeout's last second (its reserve) could end up to
// a second past TRIBUTARY_SHUTDOWN_TIMEOUT, into the orchestrator's kill.
// The close is due by the timeout's end now (or a second from the stop's
// start, where the timeout is shorter), and the handlers' wait leaves it a
// share of the reserve. On both stores.
func TestAStopCutAtItsTimeoutClosesTheStoreWithinIt(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &heldUntilCut{closableStore: k.Open(t).(closableStore), entered: make(chan string, 1)}
		cfg := config.Defaults()
		cfg.Addr = "127.0.0.1:0"
		cfg.ShutdownTimeout = 2 * time.Second
		logs := &testlog.Buffer{}
		log := slog.New(slog.NewJSONHandler(logs, nil))
		var mu sync.Mutex
		var stopDeadline, closeDue time.Time
		closes := 0
		var addr atomic.Value
		hooks := serveHooks{listen: listenRecording(&addr), storeClose: func(deadline, due time.Time) {
			mu.Lock()
			defer mu.Unlock()
			stopDeadline, closeDue = deadline, due
			closes++
		}}
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		done := make(chan error, 1)
		go func() {
			done <- serveOn(ctx, context.Background(), cfg, hooks, nil, store, nil, log, metrics.New("test"))
		}()
		waitListening(t, logs)
		go func() {
			body := strings.NewReader(`{"stream_type":"t","events":[{"type":"Held","data":{}}]}`)
			c := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext}}
			if resp, err := c.Post("http://"+addr.Load().(string)+"/streams/"+uuid.NewString()+"/events", "application/json", body); err == nil {
				resp.Body.Close()
			}
		}()
		select {
		case <-store.entered:
		case <-time.After(30 * time.Second):
			t.Fatal("the append never reached the store")
		}
		stop() // SIGTERM: the append is held until the timeout's last part cuts it
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatal("serve did not return after SIGTERM")
		}
		mu.Lock()
		defer mu.Unlock()
		if closes != 1 {
			t.Fatalf("the store's close at the end of the stop was begun %d times; expected once. The log:\n%s", closes, logs.String())
		}
		if closeDue.After(stopDeadline) {
			t.Errorf("a stop with %s=%s, its append cut in its last part: the store's close was due %s past the timeout's end; expected within it",
				config.Var("ShutdownTimeout"), cfg.ShutdownTimeout, closeDue.Sub(stopDeadline))
		}
	})
}

package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestEveryAppendStillRunningAtTheShutdownTimeoutIsLogged: five appends
// held by a frozen database, a stop past TRIBUTARY_SHUTDOWN_TIMEOUT: four
// were logged 503 as cut, and the one the database's writer held (its
// commit on its way: it does not end with its request) was never logged,
// though the process exited without it ("1 requests still running"). Each
// is now logged, once, 503 at WARN, before the stop returns. On both stores.
func TestEveryAppendStillRunningAtTheShutdownTimeoutIsLogged(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &heldByTheWriter{closableStore: k.Open(t).(closableStore), entered: make(chan struct{}, 5), release: make(chan struct{})}
		var once sync.Once
		t.Cleanup(func() { once.Do(func() { close(store.release) }) })
		srv := serveToStop(t, store, context.Background(), 2*time.Second, time.Minute)
		base, stop, done, logs := srv.base, srv.stop, srv.done, srv.logs
		for range 5 {
			go func() {
				body := strings.NewReader(`{"stream_type":"t","events":[{"type":"Held","data":{}}]}`)
				if resp, err := http.Post(base+"/streams/"+uuid.NewString()+"/events", "application/json", body); err == nil {
					resp.Body.Close()
				}
			}()
		}
		for range 5 {
			select {
			case <-store.entered:
			case <-time.After(30 * time.Second):
				t.Fatal("the appends never reached the store")
			}
		}
		stop() // SIGTERM
		var err error
		select {
		case err = <-done:
		case <-time.After(time.Minute):
			t.Fatal("the stop did not end")
		}
		if err == nil || !strings.Contains(err.Error(), "5 requests still running") {
			t.Fatalf("a stop past its timeout with 5 appends held: expected an error saying 5 requests still run, got %v", err)
		}
		lines := requestLines(t, logs)
		if len(lines) != 5 {
			t.Errorf("5 appends still running at the exit: want 5 access lines, got %d; the log says:\n%s", len(lines), logs.String())
		}
		for _, l := range lines {
			if l.Status != http.StatusServiceUnavailable || l.Level != "WARN" {
				t.Errorf("%s %s, still running at the exit: logged %d at %s; want 503 at WARN, as every cut request", l.Method, l.Path, l.Status, l.Level)
			}
		}
	})
}

// heldByTheWriter is a store whose Append waits until release is closed,
// its request's end or not, as one whose commit is on its way to a frozen
// database does.
type heldByTheWriter struct {
	closableStore
	entered chan struct{}
	release chan struct{}
}

func (s *heldByTheWriter) Append(ctx context.Context, req eventstore.AppendRequest) (eventstore.AppendResult, error) {
	s.entered <- struct{}{}
	<-s.release
	return eventstore.AppendResult{}, errors.New("released after the stop (test)")
}

// Close leaves the real store to the test's cleanup.
func (s *heldByTheWriter) Close() error { return nil }

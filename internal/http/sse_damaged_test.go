package http_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionOpenedWhileTheFeedFindsTheFileDamagedIs503: once the live
// feed's tailer meets damage in the embedded store's file, it ends every
// subscription, and each that opens after, at its next poll. A subscription's
// start read only the log's head, which the damage does not touch: a client
// reconnecting was answered 200, its retry frame, and an end, again every
// 2 s for as long as the server ran. It is now the 503 the damage is
// everywhere else: a problem saying that the file is damaged and retrying
// will not help, without Retry-After, on which an EventSource stops. SQLite
// alone: MySQL has no such error.
//
// The damage is in the event the tailer reads next: it checks the event at
// its head by id alone (LogTail.IDAt), not its data, which it read whole at
// each poll before (a MiB a poll under an event of 1 MiB).
func TestASubscriptionOpenedWhileTheFeedFindsTheFileDamagedIs503(t *testing.T) {
	t.Parallel()
	k := teststore.SQLite
	store := k.Open(t)
	id := uuid.New()
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}, {Type: "X", Data: []byte(`{}`)}, {Type: "X", Data: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	tail := &holdingTail{LogTail: store.Tail(), held: make(chan struct{}, 1), release: make(chan struct{})}
	feed := runFeed(t, holdingStore{store, tail}, fanout.Options{PollInterval: 10 * time.Millisecond})
	_, srv := serveFeed(t, feed, store, esthttp.Options{Heartbeat: 200 * time.Millisecond, RequestTimeout: 5 * time.Second}, nil)

	subscribe := func(method, path string) *http.Response {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	// A live subscription: the tailer reads the log after its head each poll.
	live := subscribe("GET", "/events")
	p := ssetest.NewParser(bufio.NewReader(live.Body), "")
	for {
		f, _, err := p.Next()
		if err != nil {
			t.Fatalf("the subscription before the damage: %v before its caught-up", err)
		}
		if f.Event == "caught-up" {
			break
		}
	}
	// An event at 4, damaged before the tailer reads it: its next read
	// waits until the damage is in place.
	tail.armed.Store(true)
	select {
	case <-tail.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the tailer did not read the log again in 30 s")
	}
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
		Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	k.Exec(t, store, "UPDATE events SET data = ? WHERE position = 4", `{"rot":true}`)
	close(tail.release)
	if _, err := io.Copy(io.Discard, live.Body); err != nil {
		t.Logf("the live subscription ended with %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); feed.Unmendable() == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the feed did not find the damage at 4 in 30 s")
		}
	}

	for _, path := range []string{"/events", "/events?after=3", "/streams/" + id.String() + "/events", "/streams/" + id.String() + "/events?from=4"} {
		for _, method := range []string{"GET", "HEAD"} {
			resp := subscribe(method, path)
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Values("Retry-After") != nil {
				t.Errorf("%s %s once the feed found the file damaged: %d, Retry-After %q; want 503 without Retry-After\n%s",
					method, path, resp.StatusCode, resp.Header.Values("Retry-After"), body)
				continue
			}
			if method == "GET" && !strings.Contains(string(body), "damaged") {
				t.Errorf("%s %s once the feed found the file damaged: %s; want a problem saying the file is damaged", method, path, body)
			}
		}
	}

	// Mended (the event's bytes as they were stored): served again.
	k.Exec(t, store, "UPDATE events SET data = ? WHERE position = 4", `{}`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp := subscribe("GET", "/events?after=3")
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a subscription once the event was mended: %d; want 200", resp.StatusCode)
		}
	}
}

// holdingStore's tail is tail.
type holdingStore struct {
	eventstore.Store
	tail *holdingTail
}

func (h holdingStore) Tail() eventstore.LogTail { return h.tail }

// holdingTail's first read of the log once armed sends on held, then waits
// until release is closed. The tailer is one goroutine: once held has
// received, none of its reads is in flight.
type holdingTail struct {
	eventstore.LogTail
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if h.armed.CompareAndSwap(true, false) {
		h.held <- struct{}{}
		<-h.release
	}
	return h.LogTail.ReadAll(ctx, opts)
}

package http_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// stuckStore never answers a stream lookup, like a database that hangs.
type stuckStore struct{ eventstore.Store }

func (stuckStore) Stream(ctx context.Context, _ uuid.UUID) (eventstore.Stream, error) {
	<-ctx.Done()
	return eventstore.Stream{}, ctx.Err()
}

// Append never answers either.
func (stuckStore) Append(ctx context.Context, _ eventstore.AppendRequest) (eventstore.AppendResult, error) {
	<-ctx.Done()
	return eventstore.AppendResult{}, ctx.Err()
}

// TestOnlyASubscriptionOutlivesTheRequestTimeout sends requests that ask for
// text/event-stream but are not subscriptions (an append, a stream lookup, a
// stream list) to a store that never answers: each must end at the request
// timeout with a 503, for only a GET on the two subscription routes is exempt.
func TestOnlyASubscriptionOutlivesTheRequestTimeout(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		const timeout = 300 * time.Millisecond
		srv := httptest.NewServer(esthttp.New(stuckStore{store}, esthttp.Options{RequestTimeout: timeout}))
		t.Cleanup(srv.Close)
		id := uuid.NewString()
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/streams/" + id + "/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`},
			{"GET", "/streams/" + id, ""},
		} {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Content-Type", "application/json")
			client := &http.Client{Timeout: 20 * timeout}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s with Accept: text/event-stream on a stuck store: %v after %s; want a 503 at the request timeout (%s)",
					tc.method, tc.path, err, time.Since(start), timeout)
			}
			resp.Body.Close()
			if took := time.Since(start); resp.StatusCode != 503 || took > 10*timeout {
				t.Errorf("%s %s with Accept: text/event-stream on a stuck store: %d after %s; want 503 after about %s",
					tc.method, tc.path, resp.StatusCode, took, timeout)
			}
		}
	})
}

func TestLimitsAndTimeouts(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go feed.Run(ctx)
	const timeout = 300 * time.Millisecond
	srv := httptest.NewServer(esthttp.New(stuckStore{store}, esthttp.Options{
		Feed: feed, Heartbeat: 100 * time.Millisecond,
		MaxEventBytes: 100, MaxSubscribers: 2, RequestTimeout: timeout,
	}))
	t.Cleanup(srv.Close)

	// One event over the limit, in a body well within it.
	body := `{"stream_type":"a","events":[{"type":"X","data":{}},{"type":"X","data":"` + strings.Repeat("x", 120) + `"}]}`
	resp, err := http.Post(srv.URL+"/streams/"+uuid.NewString()+"/events", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("an event of 122 bytes with a 100-byte limit: status %d, want 413", resp.StatusCode)
	}

	// A request stuck on the database ends at the timeout with a 503.
	start := time.Now()
	resp, err = http.Get(srv.URL + "/streams/" + uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != 503 || took > 5*timeout {
		t.Errorf("a request stuck on the store: %d after %s, want 503 after about %s", resp.StatusCode, took, timeout)
	}

	// Two subscriptions fit, a third is refused; they outlive the request timeout.
	subscribe := func() *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	a, b := subscribe(), subscribe()
	if a.StatusCode != 200 || b.StatusCode != 200 {
		t.Fatalf("two subscriptions with room for two: %d and %d", a.StatusCode, b.StatusCode)
	}
	if c := subscribe(); c.StatusCode != 503 || c.Header.Get("Retry-After") == "" {
		t.Errorf("a third subscription with room for two: %d Retry-After %q, want 503 with Retry-After", c.StatusCode, c.Header.Get("Retry-After"))
	}
	time.Sleep(2 * timeout)
	r := bufio.NewReader(a.Body)
	deadline := time.Now().Add(2 * time.Second)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("a subscription ended after the request timeout: %v", err)
		}
		if strings.HasPrefix(line, ": keep-alive") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no keep-alive on a subscription older than the request timeout")
		}
	}
	// Closing one makes room again.
	b.Body.Close()
	time.Sleep(100 * time.Millisecond)
	if c := subscribe(); c.StatusCode != 200 {
		t.Errorf("a subscription after one closed: %d, want 200", c.StatusCode)
	}
}

package http_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// countingReads counts the reads a subscription makes before it answers.
type countingReads struct {
	eventstore.Store
	reads atomic.Int64
}

func (c *countingReads) Head(ctx context.Context) (int64, error) {
	c.reads.Add(1)
	return c.Store.Head(ctx)
}

func (c *countingReads) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	c.reads.Add(1)
	return c.Store.Stream(ctx, id)
}

// TestASubscriptionAtTheCapReadsNothing: a subscription reads the log's
// head or its stream before it answers (so that a database out of reach is
// a 503), and it did so before it met TRIBUTARY_MAX_SUBSCRIBERS: at the cap,
// a storm of reconnecting EventSources cost a query each before its 503.
// From the session's final read.
func TestASubscriptionAtTheCapReadsNothing(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	counting := &countingReads{Store: store}
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	go feed.Run(t.Context())
	h := esthttp.New(counting, esthttp.Options{Feed: feed, MaxSubscribers: 1, MaxSubscribersPerClient: 5})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseSubscriptions)
	open := func(path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	held := open("/events")
	defer held.Body.Close()
	if held.StatusCode != http.StatusOK {
		t.Fatalf("the first subscription: %d; want 200", held.StatusCode)
	}
	before := counting.reads.Load()
	for _, path := range []string{"/events", "/events?after=5", "/streams/" + uuid.NewString() + "/events", "/streams/" + uuid.NewString() + "/events?from=3"} {
		resp := open(path)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("GET %s at the cap: %d; want 503", path, resp.StatusCode)
		}
	}
	if n := counting.reads.Load() - before; n != 0 {
		t.Errorf("four subscriptions refused at the cap read the database %d times; want none", n)
	}
}

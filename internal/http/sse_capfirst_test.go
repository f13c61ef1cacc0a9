package http_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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
// From the session's final read. A starting point past what the server
// has read is read once (to tell a 409, as without the cap:
// TestAtTheCapAStartingPointPastTheHeadIsStillAConflict), and then known.
func TestASubscriptionAtTheCapReadsNothing(t *testing.T) {
	t.Parallel()
	store := teststore.SQLite.Open(t)
	id := uuid.New()
	appendTo := func(n int) {
		t.Helper()
		req := eventstore.AppendRequest{StreamID: id, StreamType: "t", Expected: eventstore.Any}
		for range n {
			req.Events = append(req.Events, eventstore.NewEvent{ID: uuid.New(), Type: "E", Data: []byte("1")})
		}
		if _, err := store.Append(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(3)
	counting := &countingReads{Store: store}
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	go feed.Run(t.Context())
	h := esthttp.New(counting, esthttp.Options{Feed: feed, MaxSubscribers: 2, MaxSubscribersPerClient: 5})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseSubscriptions)
	for _, path := range []string{"/events", "/streams/" + id.String() + "/events?from=2"} {
		held := subscribeTo(t, srv.URL+path)
		defer held.Body.Close()
		if held.StatusCode != http.StatusOK {
			t.Fatalf("the subscription %s: %d; want 200", path, held.StatusCode)
		}
	}
	storm := func(reads int64, paths ...string) {
		t.Helper()
		before := counting.reads.Load()
		for _, path := range paths {
			path, lastEventID, _ := strings.Cut(path, " ")
			var header []string
			if lastEventID != "" {
				header = []string{"Last-Event-ID", lastEventID}
			}
			resp := subscribeTo(t, srv.URL+path, header...)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("GET %s (Last-Event-ID %q) at the cap: %d; want 503", path, lastEventID, resp.StatusCode)
			}
		}
		if n := counting.reads.Load() - before; n != reads {
			t.Errorf("%d subscriptions refused at the cap read the database %d times; want %d", len(paths), n, reads)
		}
	}
	stream := "/streams/" + id.String() + "/events"
	storm(0, "/events", "/events?after=2", "/events 3", stream+"?from=3", stream+" 3", "/streams/"+uuid.NewString()+"/events")
	// Past what the server has read: the first reads, the others know.
	appendTo(2)
	storm(1, "/events?after=5", "/events 5", "/events?after=4")
	storm(1, stream+" 5", stream+"?from=6", stream+" 4")
}

// TestAtTheCapAStartingPointPastTheHeadIsStillAConflict: a subscription
// whose starting point the server has never reached is a 409 whatever the
// load, as API.md asks (a 4xx saying both numbers), but at either limit
// on subscriptions it was a 503, and a client retried it after
// Retry-After to learn only then that it must start again. On both stores,
// at the instance's limit and at the client's.
func TestAtTheCapAStartingPointPastTheHeadIsStillAConflict(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		id := uuid.New()
		if _, err := store.Append(t.Context(), eventstore.AppendRequest{StreamID: id, StreamType: "t", Expected: eventstore.Any,
			Events: []eventstore.NewEvent{{ID: uuid.New(), Type: "E", Data: []byte("1")}, {ID: uuid.New(), Type: "E", Data: []byte("2")}}}); err != nil {
			t.Fatal(err)
		}
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
		go feed.Run(t.Context())
		for _, limits := range []struct{ all, perClient int }{{1, 5}, {5, 1}} {
			h := esthttp.New(store, esthttp.Options{Feed: feed, MaxSubscribers: limits.all, MaxSubscribersPerClient: limits.perClient})
			srv := httptest.NewServer(h)
			held := subscribeTo(t, srv.URL+"/events")
			if held.StatusCode != http.StatusOK {
				t.Fatalf("the first subscription: %d; want 200", held.StatusCode)
			}
			for _, tc := range []struct {
				path   string
				header []string
			}{
				{"/events?after=99", nil},
				{"/events", []string{"Last-Event-ID", "99"}},
				{"/streams/" + id.String() + "/events?from=4", nil},
				{"/streams/" + id.String() + "/events", []string{"Last-Event-ID", "3"}},
				{"/streams/" + uuid.NewString() + "/events?from=2", nil},
				// A position to read at that the log never reached.
				{"/events", []string{esthttp.MinPositionHeader, "99"}},
				{"/streams/" + id.String() + "/events", []string{esthttp.MinPositionHeader, "99"}},
			} {
				resp := subscribeTo(t, srv.URL+tc.path, tc.header...)
				resp.Body.Close()
				if resp.StatusCode != http.StatusConflict {
					t.Errorf("GET %s %q at a limit of %d subscriptions, %d a client: %d; want 409, as without the limit",
						tc.path, tc.header, limits.all, limits.perClient, resp.StatusCode)
				}
			}
			// A starting point the server has is still a 503 at the limit.
			for _, path := range []string{"/events?after=2", "/streams/" + id.String() + "/events?from=3"} {
				resp := subscribeTo(t, srv.URL+path)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("GET %s at a limit: %d; want 503", path, resp.StatusCode)
				}
			}
			held.Body.Close()
			h.CloseSubscriptions()
			srv.Close()
		}
		// Where reads may lag, telling takes a wait: at the limit, the 503
		// comes at once instead.
		counting := &countingReads{Store: store}
		h := esthttp.New(counting, esthttp.Options{Feed: feed, MaxSubscribers: 1, ReadsMayLag: true})
		srv := httptest.NewServer(h)
		defer srv.Close()
		defer h.CloseSubscriptions()
		held := subscribeTo(t, srv.URL+"/events")
		defer held.Body.Close()
		// The wait (up to 5 s, the most a Tributary-Min-Position is waited
		// for) reads the head at each of its polls: at once is no read.
		for _, header := range [][]string{nil, {esthttp.MinPositionHeader, "99"}} {
			before := counting.reads.Load()
			resp := subscribeTo(t, srv.URL+"/events?after=99", header...)
			resp.Body.Close()
			if n := counting.reads.Load() - before; resp.StatusCode != http.StatusServiceUnavailable || n != 0 {
				t.Errorf("GET /events?after=99 %q at the limit where reads may lag: %d after %d reads of the database; want 503 at once, with none", header, resp.StatusCode, n)
			}
		}
	})
}

// subscribeTo GETs url as a subscription, with the headers given as name,
// value pairs, and returns the answer, whose body the caller closes.
func subscribeTo(t *testing.T, url string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

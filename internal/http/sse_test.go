package http_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestSubscriptionMatchesOpenAPIAndEndsCleanlyOnShutdown opens a live
// subscription, checks its status and headers against openapi.yaml and its
// first frames, then ends it the way shutdown does.
func TestSubscriptionMatchesOpenAPIAndEndsCleanlyOnShutdown(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) { testSubscriptionMatchesOpenAPI(t, k.Open(t)) })
}

func testSubscriptionMatchesOpenAPI(t *testing.T, store eventstore.Store) {
	c := newContract(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	feedCtx, stopFeed := context.WithCancel(context.Background())
	t.Cleanup(stopFeed)
	go feed.Run(feedCtx)
	h := esthttp.New(feed.Notifying(store), esthttp.Options{OpenAPI: api.OpenAPI, Feed: feed, Heartbeat: 200 * time.Millisecond})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	id := uuid.New()
	if _, err := store.Append(ctx, eventstore.AppendRequest{StreamID: id, StreamType: "order",
		Events: []eventstore.NewEvent{{Type: "Placed", Data: []byte("{\n  \"multi\": \"line\"\n}")}}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/streams/" + id.String() + "/events", "/events?stream_type=order"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		route, params, err := c.router.FindRoute(req)
		if err != nil {
			t.Fatalf("route %s: %v", path, err)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true},
		}
		if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
			t.Errorf("subscription response to %s does not match openapi.yaml: %v", path, err)
		}
		p := ssetest.NewParser(resp.Body, "")
		var frames []ssetest.Frame
		for len(frames) < 4 {
			frame, _, err := p.Next()
			if err != nil {
				t.Fatalf("%s: reading frames: %v (got %v)", path, err, frames)
			}
			frames = append(frames, frame)
		}
		want := []ssetest.Frame{{Retry: "2000"}, {ID: "1", HasID: true, Data: frames[1].Data, HasData: true},
			{Event: "caught-up", Data: "1", HasData: true}, {Comments: []string{"keep-alive"}}}
		if fmt.Sprint(frames) != fmt.Sprint(want) || !strings.HasPrefix(frames[1].Data, "{") || strings.Contains(frames[1].Data, "\n") ||
			!strings.Contains(frames[1].Data, `"data":{"multi":"line"}`) {
			t.Fatalf("%s: first frames = %v\nwant retry, the event on one line, caught-up, keep-alive", path, frames)
		}
	}

	// Shutdown: every open subscription response ends, cleanly and promptly.
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); ended <- err }()
	time.Sleep(100 * time.Millisecond)
	h.CloseSubscriptions()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("subscription ended with %v, want a clean end of the body", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscription still open 5 s after CloseSubscriptions")
	}
}

func TestSubscriptionRefusesBadStartingPoints(t *testing.T) {
	t.Parallel()
	h := esthttp.New(panicStore{}, esthttp.Options{Feed: fanout.New(teststore.SQLite.Open(t), fanout.Options{})})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cases := []struct{ path, lastEventID string }{
		{"/events", "abc"}, {"/events", "-1"}, {"/events", "1.5"}, {"/events", "+3"},
		{"/streams/" + uuid.NewString() + "/events", "x"},
		{"/streams/" + uuid.NewString() + "/events?direction=backward", ""},
		{"/streams/" + uuid.NewString() + "/events?from=0", ""},
		{"/events?after=-5", ""},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.Header.Set("Accept", "text/event-stream")
		if tc.lastEventID != "" {
			req.Header.Set("Last-Event-ID", tc.lastEventID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s with Last-Event-ID %q: %d %s, want a 400 problem", tc.path, tc.lastEventID, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// TestAnIdleSubscriptionHoldsNoGoroutineOfItsOwn: a subscription runs on
// the goroutine net/http serves its request on, and the feed adds none, so
// an idle subscriber costs the server net/http's two goroutines (the
// connection's and its background reader) and the client its transport's two.
// Not parallel: it counts the process's goroutines.
func TestAnIdleSubscriptionHoldsNoGoroutineOfItsOwn(t *testing.T) {
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	feedCtx, stopFeed := context.WithCancel(context.Background())
	feedDone := make(chan struct{})
	go func() { feed.Run(feedCtx); close(feedDone) }()
	t.Cleanup(func() { stopFeed(); <-feedDone })
	h := esthttp.New(store, esthttp.Options{Feed: feed})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseSubscriptions)
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	subscribe := func() {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		p := ssetest.NewParser(resp.Body, "")
		for {
			f, _, err := p.Next()
			if err != nil {
				t.Fatalf("reading up to caught-up: %v", err)
			}
			if f.Event == "caught-up" {
				return
			}
		}
	}
	subscribe() // the feed is running and every pool warm
	const n = 20
	base := runtime.NumGoroutine()
	for range n {
		subscribe()
	}
	time.Sleep(50 * time.Millisecond) // let anything a subscription started show
	if got, most := runtime.NumGoroutine()-base, 4*n+4; got > most {
		t.Errorf("%d idle subscriptions added %d goroutines, want at most %d: 2 of net/http's and 2 of the client's each", n, got, most)
	}
}

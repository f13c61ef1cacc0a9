package client

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestEveryCallKeepsTheBaseURLsPathAsItIsEscaped: a base URL whose path
// holds an escaped reserved character (a gateway's route by tenant,
// /tenants/acme%2Fprod, or %3B) had it unescaped into the request's path
// (/tenants/acme/prod/events), which is another path: every call went to
// a route that is not the service's. The path is now the base URL's as
// written, then the API's; spaces, a percent sign and unicode, which
// were escaped right, still are. Against the real handler on both
// stores, behind a gateway that serves it under the prefix, escaped
// exactly as written, and answers 404 to anything else. Stream ids are
// UUIDs, and names go in the query, so the API's own paths hold nothing
// to escape.
func TestEveryCallKeepsTheBaseURLsPathAsItIsEscaped(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		h := tributaryHandler(t, k)
		for _, prefix := range []string{"/tenants/acme%2Fprod", "/x%3By", "/a%20b", "/100%25", "/%C3%A9t%C3%A9"} {
			t.Run(prefix, func(t *testing.T) {
				srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
					rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix+"/")
					if !ok {
						http.Error(w, "no route to "+r.URL.EscapedPath(), http.StatusNotFound)
						return
					}
					r = r.Clone(r.Context())
					r.URL.Path, r.URL.RawPath = "/"+rest, ""
					r.RequestURI = r.URL.RequestURI()
					h.ServeHTTP(w, r)
				})
				c := newClient(t, srv.URL+prefix)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				const streamType = "order:eu.v-1_x"
				id := uuid.New()
				if _, err := c.Append(ctx, StreamRef{ID: id, Type: streamType}, NoStream,
					NewEvent{Type: "A", Data: 1}, NewEvent{Type: "B", Data: 2}, NewEvent{Type: "C", Data: 3}); err != nil {
					t.Fatalf("Append: %v", err)
				}
				if st, err := c.Stream(ctx, id); err != nil || st.Version != 3 || st.Type != streamType {
					t.Fatalf("Stream = %+v, %v; expected the stream at version 3", st, err)
				}
				n := 0
				for _, err := range c.ReadStream(ctx, id, ReadStreamOptions{PageSize: 1}) {
					if err != nil {
						t.Fatalf("ReadStream after %d events: %v", n, err)
					}
					n++
				}
				if n != 3 {
					t.Fatalf("ReadStream read %d events; expected 3, a page each", n)
				}
				n = 0
				for e, err := range c.ReadAll(ctx, ReadAllOptions{StreamTypes: []string{streamType, "other"}, EventTypes: []string{"A", "C"}, PageSize: 1}) {
					if err != nil {
						t.Fatalf("ReadAll after %d events: %v", n, err)
					}
					if e.StreamID == id {
						n++
					}
				}
				if n != 2 {
					t.Fatalf("ReadAll read %d of the stream's events; expected A and C", n)
				}
				var got []int64
				for m, err := range c.Subscribe(ctx, SubscribeOptions{StreamID: id}) {
					if err != nil {
						t.Fatalf("Subscribe after versions %v: %v", got, err)
					}
					if m.CaughtUp {
						break
					}
					got = append(got, m.Event.Version)
				}
				if len(got) != 3 {
					t.Fatalf("Subscribe delivered versions %v before catching up; expected 1, 2, 3", got)
				}
			})
		}
	})
}

// clientOfTributary returns a Client of the real handler on a fresh store of
// kind k, served by a test server of its own; both close with the test.
func clientOfTributary(t *testing.T, k teststore.Kind) *Client {
	t.Helper()
	return serving(t, tributaryHandler(t, k).ServeHTTP)
}

// tributaryHandler is Tributary's own handler on a fresh store of kind k
// (handlerOf).
func tributaryHandler(t *testing.T, k teststore.Kind) http.Handler {
	t.Helper()
	return handlerOf(t, k.Open(t), time.Second)
}

// handlerOf is Tributary's own handler, with its live feed, on store,
// sending a keep-alive every heartbeat; both stop when the test ends.
func handlerOf(t *testing.T, store eventstore.Store, heartbeat time.Duration) http.Handler {
	t.Helper()
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	feedCtx, stopFeed := context.WithCancel(context.Background())
	t.Cleanup(stopFeed)
	go feed.Run(feedCtx)
	h := esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed, Heartbeat: heartbeat})
	t.Cleanup(h.CloseSubscriptions)
	return h
}

// TestANextLinkKeepsItsPathAsItIsEscaped: a next link is followed with
// its path as the server escaped it.
func TestANextLinkKeepsItsPathAsItIsEscaped(t *testing.T) {
	t.Parallel()
	var second string
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("after") == "" {
			w.Header().Set("Link", `</events%2Fmore?after=1>; rel="next"`)
			w.Write([]byte(`{"events":[` + sseEvent(1) + `]}`)) //nolint:errcheck // a test's answer
			return
		}
		second = r.URL.EscapedPath()
		w.Write([]byte(`{"events":[]}`)) //nolint:errcheck // a test's answer
	})
	for _, err := range c.ReadAll(context.Background(), ReadAllOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := "/events%2Fmore"; second != want {
		t.Errorf("the next link was requested as %q; expected %q, as the server escaped it", second, want)
	}
}

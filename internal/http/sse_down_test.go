package http_test

import (
	"bufio"
	"context"
	"fmt"
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
	"github.com/tributary-dev/tributary/internal/mysqltest"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// unreachableStore is a store whose database can be made unreachable for
// the server's own reads (down): the SQLite store has no such outage of its
// own.
type unreachableStore struct {
	eventstore.Store
	down atomic.Bool
}

func (s *unreachableStore) err() error {
	if s.down.Load() {
		return fmt.Errorf("%w: the test took the database away", eventstore.ErrUnavailable)
	}
	return nil
}

func (s *unreachableStore) Head(ctx context.Context) (int64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.Head(ctx)
}

func (s *unreachableStore) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if err := s.err(); err != nil {
		return eventstore.Stream{}, err
	}
	return s.Store.Stream(ctx, id)
}

// TestASubscriptionOpenedWhileTheDatabaseIsDownIs503: a subscription with a
// starting point reads the log's head (or the stream) before it answers,
// and while the database cannot be reached it is a 503 with Retry-After.
// One with no starting point read nothing first: it was a 200 with its
// retry frame and keep-alives and nothing else, no caught-up, for as long
// as the outage lasted, which a client cannot tell from a long history, and
// which kept a load balancer from sending it to an instance that can serve
// it. It is now a 503 with Retry-After too, like every other request while
// the database is down (API.md); once the database is back it is served.
// MySQL behind a proxy that is cut; SQLite, which has no outage of its
// own, behind a store whose reads fail as one does.
func TestASubscriptionOpenedWhileTheDatabaseIsDownIs503(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		var store, feedStore eventstore.Store
		var cut, restore func()
		if k.Name == teststore.MySQL.Name {
			dsn, p := mysqltest.NewDatabaseBehindProxy(t)
			store = teststore.OpenMySQL(t, dsn)
			feedStore = store
			cut, restore = p.Cut, func() { p.Restore(t) }
		} else {
			feedStore = k.Open(t)
			u := &unreachableStore{Store: feedStore}
			store = u
			cut, restore = func() { u.down.Store(true) }, func() { u.down.Store(false) }
		}
		id := uuid.New()
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		feed := fanout.New(feedStore, fanout.Options{PollInterval: 10 * time.Millisecond})
		feedCtx, stopFeed := context.WithCancel(context.Background())
		t.Cleanup(stopFeed)
		go feed.Run(feedCtx)
		h := esthttp.New(feed.Notifying(store), esthttp.Options{Feed: feed, Heartbeat: 200 * time.Millisecond, RequestTimeout: 5 * time.Second})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		t.Cleanup(h.CloseSubscriptions)

		subscribe := func(path string) (*http.Response, context.CancelFunc) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				cancel()
				t.Fatalf("GET %s: %v", path, err)
			}
			return resp, func() { resp.Body.Close(); cancel() }
		}
		paths := []string{"/events", "/streams/" + id.String() + "/events", "/events?after=1", "/streams/" + id.String() + "/events?from=2"}

		cut()
		for _, path := range paths {
			resp, done := subscribe(path)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				// What such a client gets: frames, and never a caught-up.
				var frames []string
				p := ssetest.NewParser(bufio.NewReader(resp.Body), "")
				for range 4 {
					f, _, err := p.Next()
					if err != nil {
						break
					}
					frames = append(frames, f.String())
				}
				t.Errorf("a subscription to %s opened while the database is down: %d Retry-After=%q, frames %s; want 503 with Retry-After",
					path, resp.StatusCode, resp.Header.Get("Retry-After"), strings.Join(frames, " "))
			}
			done()
		}

		restore()
		for _, path := range paths {
			var resp *http.Response
			var done context.CancelFunc
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				if resp, done = subscribe(path); resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
					break
				}
				done()
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("a subscription to %s once the database is back: %d; want 200", path, resp.StatusCode)
			}
			p := ssetest.NewParser(bufio.NewReader(resp.Body), "")
			for {
				f, _, err := p.Next()
				if err != nil {
					t.Fatalf("a subscription to %s once the database is back: %v before its caught-up", path, err)
				}
				if f.Event == "caught-up" {
					break
				}
			}
			done()
		}
	})
}

// emptyLog is a store whose log is empty and that nothing else is asked
// of, for a server whose feed is a fake: a subscription reads the log's
// head before it answers.
type emptyLog struct{ eventstore.Store }

func (emptyLog) Head(context.Context) (int64, error) { return 0, nil }

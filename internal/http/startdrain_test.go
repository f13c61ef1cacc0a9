package http_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionWaitingAtItsStartEndsCleanlyAtShutdown: a subscription
// that, as it starts, waits for a lagging read replica to reach its
// Last-Event-ID, or for a read of the head or its stream that the database
// does not answer, waited on its request's context, which a shutdown does not
// end: the drain was held up to the whole wait (5 s) and the client then got
// a 503, on which an EventSource stops for ever; with a stalled database, the
// drain was held until its timeout. Shutdown now ends those waits, and the
// subscription is answered as one that opens during shutdown is: 200, its
// retry frame, a clean end, for the client to reconnect elsewhere. On both
// stores, the log and a stream, a lagging replica and a stalled database.
func TestASubscriptionWaitingAtItsStartEndsCleanlyAtShutdown(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, stalled := range []bool{false, true} {
			t.Run(map[bool]string{false: "lagging replica", true: "stalled database"}[stalled], func(t *testing.T) {
				store := k.Open(t)
				feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
				feedCtx, stopFeed := context.WithCancel(context.Background())
				t.Cleanup(stopFeed)
				go feed.Run(feedCtx)
				reads := &startReads{Store: store, stalled: stalled, release: make(chan struct{}), calls: map[string]int{}}
				t.Cleanup(func() { close(reads.release) })
				h := esthttp.New(feed.Notifying(reads), esthttp.Options{Feed: feed, Replica: &primaryAhead{store: store, lag: 5},
					RequestTimeout: time.Hour, Heartbeat: time.Hour})
				// The requests' contexts carry their path, which the store's
				// reads see.
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startPathKey{}, r.URL.Path)))
				}))
				srv.Config.ConnContext = esthttp.ConnContext // as the binary does
				srv.Config.RegisterOnShutdown(h.CloseSubscriptions)
				srv.Start()
				t.Cleanup(srv.Close)
				id, head := appendOneEvent(t, store)

				type answer struct {
					status int
					body   string
					err    error
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // bounds a hang only
				defer cancel()
				paths := map[string]string{"/events": fmt.Sprint(head + 2), "/streams/" + id.String() + "/events": "3"}
				answers := map[string]chan answer{}
				for path, last := range paths {
					answers[path] = make(chan answer, 1)
					go func() {
						req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
						req.Header.Set("Accept", "text/event-stream")
						req.Header.Set("Last-Event-ID", last)
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							answers[path] <- answer{err: err}
							return
						}
						defer resp.Body.Close()
						body, err := io.ReadAll(resp.Body)
						answers[path] <- answer{resp.StatusCode, string(body), err}
					}()
				}
				// Both wait: behind the replica, past their first read; on
				// the stalled database, in it.
				waiting := 2
				if stalled {
					waiting = 1
				}
				for path := range paths {
					for reads.count(path) < waiting {
						select {
						case <-ctx.Done():
							t.Fatalf("GET %s never began to wait", path)
						case <-time.After(5 * time.Millisecond):
						}
					}
				}
				shut := make(chan error, 1)
				go func() { shut <- srv.Config.Shutdown(ctx) }()
				for path, last := range paths {
					a := <-answers[path]
					if a.err != nil || a.status != http.StatusOK || !strings.HasPrefix(a.body, "retry: ") || strings.Contains(a.body, "caught-up") {
						t.Errorf("GET %s with Last-Event-ID %s, waiting as it starts when shutdown begins: %d %q (%v); want 200, its retry frame and a clean end",
							path, last, a.status, a.body, a.err)
					}
				}
				if err := <-shut; err != nil {
					t.Errorf("shutdown with subscriptions waiting as they start: %v", err)
				}
			})
		}
	})
}

// startPathKey is the context key of a request's path, for startReads.
type startPathKey struct{}

// startReads is a store whose reads of the head and of a stream are counted
// by the path of the request that made them; with stalled, they wait until
// their context ends or release is closed.
type startReads struct {
	eventstore.Store
	stalled bool
	release chan struct{}
	mu      sync.Mutex
	calls   map[string]int
}

func (s *startReads) read(ctx context.Context) error {
	path, _ := ctx.Value(startPathKey{}).(string)
	s.mu.Lock()
	s.calls[path]++
	s.mu.Unlock()
	if s.stalled && path != "" {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.release:
		}
	}
	return nil
}

func (s *startReads) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

func (s *startReads) Head(ctx context.Context) (int64, error) {
	if err := s.read(ctx); err != nil {
		return 0, err
	}
	return s.Store.Head(ctx)
}

func (s *startReads) Stream(ctx context.Context, id uuid.UUID) (eventstore.Stream, error) {
	if err := s.read(ctx); err != nil {
		return eventstore.Stream{}, err
	}
	return s.Store.Stream(ctx, id)
}

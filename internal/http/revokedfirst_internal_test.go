package http

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestARevokedSubscriptionWritesNoEventsWaitingForIt: a subscription whose
// token was revoked while events waited for it picked between them and the
// revocation at random (its select), and so could write one more page to
// the revoked holder. Live, while it writes its caught-up frame, an event
// is appended and polled (its Ready is ready), the token is revoked (the
// cut of writes it starts held back), then it runs on: it writes its
// problem frame (401) and no event. On both stores.
func TestARevokedSubscriptionWritesNoEventsWaitingForIt(t *testing.T) {
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		evs := make([]eventstore.NewEvent, 50)
		for i := range evs {
			evs[i] = eventstore.NewEvent{Type: "Waiting", Data: []byte(`{}`)}
		}
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs}); err != nil {
			t.Fatal(err)
		}
		feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond, PageSize: 10})
		made := time.Now()
		ctx, stop := context.WithCancel(context.Background())
		fed := make(chan struct{})
		go func() { feed.Run(ctx); close(fed) }()
		t.Cleanup(func() { stop(); <-fed })
		// The feed has polled: it knows of the events, which wait.
		waitUntil(t, 30*time.Second, "the feed's first poll", func() bool { return feed.LastPoll().After(made) })
		held := &heldFeed{Feed: feed}
		s := New(feed.Notifying(store), Options{Feed: held, Heartbeat: time.Hour})

		// The token is revoked at the flush of the caught-up frame, once an
		// event waits, and the cut of pending writes that the revocation starts
		// (cutRevoked) is held back: run alone sees it.
		revoked := &revokedWithoutCut{Context: context.Background(), done: make(chan struct{})}
		req := httptest.NewRequest(http.MethodGet, "/events", nil)
		req = req.WithContext(context.WithValue(req.Context(), accessKey{}, &accessEntry{revoked: revoked}))
		rec := &revokeAtFirstFlush{ResponseRecorder: httptest.NewRecorder(), revoked: revoked, at: -1, then: func() {
			// Events wait for the subscription, its Ready is ready, beside
			// the revocation: run's select had both to pick from.
			if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t", Events: evs[:1]}); err != nil {
				t.Error(err)
			}
			appended := time.Now()
			waitUntil(t, 30*time.Second, "the feed's poll of the event", func() bool { return feed.LastPoll().After(appended.Add(20 * time.Millisecond)) })
			waitUntil(t, 30*time.Second, "the subscription ready with what waits", func() bool {
				select {
				case <-held.sub.Ready():
					return true
				default:
					return false
				}
			})
		}}
		if err := s.serveEvents(rec, req, &eventstore.SubscribeOptions{}, false); err != nil {
			t.Fatal(err)
		}
		body := rec.ResponseRecorder.Body.String()
		if rec.at < 0 {
			t.Fatalf("expected the caught-up frame before the revocation; got %q", body)
		}
		after := body[rec.at:]
		if !strings.HasPrefix(after, "event: problem\n") || !strings.Contains(after, `"status":401`) {
			t.Errorf("after the revocation: expected the problem frame (401) alone, no event; got %q", after)
		}
	})
}

// revokedWithoutCut is a token's revocation whose AfterFuncs never run.
type revokedWithoutCut struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func (c *revokedWithoutCut) Done() <-chan struct{} { return c.done }

func (c *revokedWithoutCut) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

func (c *revokedWithoutCut) AfterFunc(func()) func() bool { return func() bool { return true } }

func (c *revokedWithoutCut) revoke() { c.once.Do(func() { close(c.done) }) }

// revokeAtFirstFlush, at the flush of the caught-up frame, calls then and
// revokes.
type revokeAtFirstFlush struct {
	*httptest.ResponseRecorder
	revoked *revokedWithoutCut
	at      int    // the body's length at the revocation; -1 before
	then    func() // after the revocation
}

func (w *revokeAtFirstFlush) Flush() {
	w.ResponseRecorder.Flush()
	if w.at < 0 && strings.Contains(w.Body.String(), "event: caught-up\n") {
		w.at = w.Body.Len()
		w.then()
		w.revoked.revoke()
	}
}

// heldFeed is a feed that keeps its last subscription.
type heldFeed struct {
	*fanout.Feed
	sub eventstore.Subscription
}

func (f *heldFeed) Subscribe(opts eventstore.SubscribeOptions) eventstore.Subscription {
	f.sub = f.Feed.Subscribe(opts)
	return f.sub
}

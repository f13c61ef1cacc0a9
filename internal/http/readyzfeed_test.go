package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// stuckTail is a real store whose live feed's reads of the log hang while
// it is stuck (until stuck is called again with false), as a tailer whose
// session hangs on a lock or a fence does; every other read, and the
// store's Ping, go on.
type stuckTail struct {
	fanout.Store
	mu      sync.Mutex
	release chan struct{} // nil: not stuck; closed to let the hung reads go
}

func (s *stuckTail) stick(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && s.release == nil:
		s.release = make(chan struct{})
	case !on && s.release != nil:
		close(s.release)
		s.release = nil
	}
}

// hang waits while the tail is stuck: until it is let go, or ctx ends.
func (s *stuckTail) hang(ctx context.Context) error {
	s.mu.Lock()
	release := s.release
	s.mu.Unlock()
	if release == nil {
		return nil
	}
	select {
	case <-release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *stuckTail) Tail() eventstore.LogTail { return hangingTail{s.Store.Tail(), s} }

type hangingTail struct {
	eventstore.LogTail
	s *stuckTail
}

func (t hangingTail) Head(ctx context.Context) (int64, error) {
	if err := t.s.hang(ctx); err != nil {
		return 0, err
	}
	return t.LogTail.Head(ctx)
}

func (t hangingTail) ReadAll(ctx context.Context, opts eventstore.ReadAllOptions) (eventstore.LogPage, error) {
	if err := t.s.hang(ctx); err != nil {
		return eventstore.LogPage{}, err
	}
	return t.LogTail.ReadAll(ctx, opts)
}

// TestReadyzSaysWhenTheLiveFeedHasNotReadTheLogForLong: with the live
// feed's poll stuck (or failing) while the database answered its ping,
// subscribers got nothing new and /readyz answered {"status":"ok"}: nothing
// a probe reads told it. /readyz still answers 200 (reads and appends are
// served, and a cause in the database would take every instance out of its
// load balancer alike), but once the feed's last good read of the log is
// older than the bound its body says the live feed is stalled, since when,
// and why that matters; the next good read clears it. On both stores.
func TestReadyzSaysWhenTheLiveFeedHasNotReadTheLogForLong(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		tail := &stuckTail{Store: store}
		feed := runFeed(t, tail, fanout.Options{PollInterval: 10 * time.Millisecond})
		_, srv := serveFeed(t, feed, store, esthttp.Options{FeedStaleAfter: 2 * time.Second}, nil)
		readyz := func() map[string]any {
			t.Helper()
			resp, err := http.Get(srv.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var got map[string]any
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &got) != nil || got["status"] != "ok" {
				t.Fatalf("/readyz: %d %s; want 200 with status ok", resp.StatusCode, b)
			}
			return got
		}
		// until waits, up to a minute, for /readyz's body to say the live
		// feed is stalled (stalled) or not, and returns that body.
		until := func(stalled bool) map[string]any {
			t.Helper()
			deadline := time.Now().Add(time.Minute)
			for {
				got := readyz()
				if (got["live_feed"] == "stalled") == stalled {
					return got
				}
				if time.Now().After(deadline) {
					t.Fatalf("/readyz for a minute: %v; want live_feed stalled: %v", got, stalled)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		until(false)
		tail.stick(true)
		got := until(true)
		since, err := time.Parse(time.RFC3339, got["live_feed_since"].(string))
		if err != nil || time.Since(since) > time.Hour || got["live_feed_reason"] == "" || got["live_feed_reason"] == nil {
			t.Errorf("/readyz with the live feed stalled: %v; want live_feed_since the feed's last read (RFC 3339) and a live_feed_reason", got)
		}
		tail.stick(false)
		until(false)
	})
}

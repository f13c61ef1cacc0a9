package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// stalePollFeed is a real feed whose last read of the log was an hour ago.
type stalePollFeed struct{ *fanout.Feed }

func (stalePollFeed) LastPoll() time.Time { return time.Now().Add(-time.Hour) }

// wrappedFeed is a feed wrapped as a caller would wrap one (to count its
// subscriptions, say): it embeds the interface the server is given.
type wrappedFeed struct{ esthttp.Feed }

// TestReadyzSaysAWrappedFeedIsStalled: the server found the feed's
// LastPoll by a type assertion on the feed it was given, so a wrapper
// that embeds esthttp.Feed (which said only Subscribe) lost it, and
// /readyz never said a stalled feed was stalled. LastPoll is part of
// esthttp.Feed now: a wrapper that embeds it keeps it, and one that does
// not implement it does not compile.
func TestReadyzSaysAWrappedFeedIsStalled(t *testing.T) {
	t.Parallel()
	store := teststore.OpenSQLite(t, t.TempDir())
	feed := wrappedFeed{stalePollFeed{fanout.New(store, fanout.Options{PollInterval: time.Hour})}}
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{Feed: feed, FeedStaleAfter: time.Minute}))
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var got map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &got) != nil || got["live_feed"] != "stalled" {
		t.Errorf("/readyz with a wrapped feed that last read the log an hour ago: %d %s; want 200 saying live_feed stalled", resp.StatusCode, b)
	}
}

// tellingFeed is a real feed that says the database is beyond mending
// (Unmendable) and counts the turns taken among the reads of history
// (Reading).
type tellingFeed struct {
	*fanout.Feed
	readings atomic.Int64
}

func (f *tellingFeed) Unmendable() error {
	return fmt.Errorf("test: %w: %w", eventstore.ErrUnavailable, eventstore.ErrDamaged)
}

func (f *tellingFeed) Reading(ctx context.Context) (func(), error) {
	f.readings.Add(1)
	return f.Feed.Reading(ctx)
}

// TestAWrappedFeedStillTakesTurnsAndRefusesAnUnmendableDatabase: as
// LastPoll, the server found the feed's Reading (the turns a
// subscription's read before it opens takes among the reads of history)
// and Unmendable (a database no retry mends, refused at a subscription's
// start) by type assertions: a wrapper that embeds esthttp.Feed lost both,
// its subscriptions' reads took the read pool without turns and a
// subscription to a damaged database opened 200, to be ended at once and
// reopened by its client for ever. Both are part of esthttp.Feed now.
func TestAWrappedFeedStillTakesTurnsAndRefusesAnUnmendableDatabase(t *testing.T) {
	t.Parallel()
	store := teststore.OpenSQLite(t, t.TempDir())
	id := uuid.New()
	if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "a",
		Events: []eventstore.NewEvent{{Type: "X", Data: []byte("1")}}}); err != nil {
		t.Fatal(err)
	}
	inner := &tellingFeed{Feed: fanout.New(store, fanout.Options{PollInterval: time.Hour})}
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{Feed: wrappedFeed{inner}, Heartbeat: time.Hour}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/streams/"+id.String()+"/events?from=2", nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a subscription through a wrapped feed that says the database is damaged: %d; want 503", resp.StatusCode)
	}
	if n := inner.readings.Load(); n == 0 {
		t.Errorf("a subscription from version 2 through a wrapped feed took %d turns among the reads of history for its read of the stream; want one", n)
	}
}

package http_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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

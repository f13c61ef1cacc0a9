package http_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// gatedPollFeed is a real feed whose LastPoll says what the test sets
// (last), and whose next call, once armed, hands its answer back only
// when the test lets it go: a probe that read the feed's last poll a
// moment before the feed read the log again, and is slow to judge it.
type gatedPollFeed struct {
	*fanout.Feed
	last    atomic.Pointer[time.Time]
	armed   atomic.Bool
	entered chan struct{} // closed by the armed call, holding its answer
	release chan struct{} // closed by the test to let it answer
}

func (f *gatedPollFeed) LastPoll() time.Time {
	last := *f.last.Load()
	if f.armed.CompareAndSwap(true, false) {
		close(f.entered)
		<-f.release
	}
	return last
}

// TestReadyzProbesAtOnceDoNotFlapTheLiveFeedsStall: /readyz judged the
// feed stalled by each probe's own reading of LastPoll, then swapped the
// flag: a probe that read it just before the feed's next good read, and
// swapped after a later probe had found the feed reading again, set the
// flag back to stalled, logged the stall's WARN a second time (and the
// recovery's INFO at the next probe) and answered live_feed: stalled
// though the feed had read the log. Under many probes at once (several
// load balancers, kubelets) a feed that recovered logged a stall again. A
// probe's reading older than one another probe has judged is now judged
// as the newer one: the stall is logged once as it begins, once as it
// ends.
func TestReadyzProbesAtOnceDoNotFlapTheLiveFeedsStall(t *testing.T) {
	t.Parallel()
	store := teststore.OpenSQLite(t, t.TempDir())
	feed := &gatedPollFeed{Feed: fanout.New(store, fanout.Options{PollInterval: time.Hour}),
		entered: make(chan struct{}), release: make(chan struct{})}
	stale := time.Now().Add(-time.Hour)
	feed.last.Store(&stale)
	var logs testlog.Buffer
	h := esthttp.New(store, esthttp.Options{Feed: feed, FeedStaleAfter: time.Minute, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	readyz := func() map[string]any {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Error(err)
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var got map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &got) != nil {
			t.Errorf("/readyz: %d %s; want 200 with a JSON body", resp.StatusCode, b)
		}
		return got
	}
	stalls := func() int { return strings.Count(logs.String(), "the live feed has not read the log for long") }
	recoveries := func() int { return strings.Count(logs.String(), "the live feed reads the log again") }

	if got := readyz(); got["live_feed"] != "stalled" {
		t.Fatalf("/readyz with the feed's last read an hour old: %v; want live_feed stalled", got)
	}
	// Probe A reads the feed's last poll (an hour old) and is held there;
	// the feed reads the log; probe B finds it reading again; A goes on.
	feed.armed.Store(true)
	slow := make(chan map[string]any, 1)
	go func() { slow <- readyz() }()
	<-feed.entered
	fresh := time.Now()
	feed.last.Store(&fresh)
	if got := readyz(); got["live_feed"] != nil {
		t.Errorf("/readyz after the feed's read: %v; want no live_feed", got)
	}
	close(feed.release)
	if got := <-slow; got["live_feed"] != nil {
		t.Errorf("/readyz that read the last poll before the feed's read and judged it after another probe saw the read: %v; want no live_feed", got)
	}
	if got := readyz(); got["live_feed"] != nil {
		t.Errorf("/readyz after both: %v; want no live_feed", got)
	}
	if stalls() != 1 || recoveries() != 1 {
		t.Errorf("the stall was logged %d times and its end %d times (the log: %q); want each once", stalls(), recoveries(), logs.String())
	}
}

// TestReadyzBodyWithTheLiveFeedStalledIsTheContracts: /readyz's body while
// the live feed is stalled (live_feed, live_feed_reason, live_feed_since)
// is checked against openapi.yaml's Health: each member declared there,
// of its type, enum and format (the contract transport), none that the
// document does not name (Health allows more members, so the transport
// alone would pass one).
func TestReadyzBodyWithTheLiveFeedStalledIsTheContracts(t *testing.T) {
	t.Parallel()
	store := teststore.OpenSQLite(t, t.TempDir())
	feed := &gatedPollFeed{Feed: fanout.New(store, fanout.Options{PollInterval: time.Hour})}
	stale := time.Now().Add(-time.Hour)
	feed.last.Store(&stale)
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{Feed: feed, FeedStaleAfter: time.Minute, OpenAPI: api.OpenAPI}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: newContract(t)}
	resp, err := client.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got["live_feed"] != "stalled" {
		t.Fatalf("/readyz with the feed's last read an hour old: %d %v (%v); want live_feed stalled", resp.StatusCode, got, err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	health := doc.Components.Schemas["Health"].Value
	for name := range got {
		if health.Properties[name] == nil {
			t.Errorf("/readyz's body has %q (%v), which openapi.yaml's Health does not declare", name, got[name])
		}
	}
	if since, err := time.Parse(time.RFC3339, got["live_feed_since"].(string)); err != nil || since.Sub(stale).Abs() > time.Second {
		t.Errorf("live_feed_since %v (%v); want the feed's last read, %s, in RFC 3339", got["live_feed_since"], err, stale.UTC().Format(time.RFC3339))
	}
}

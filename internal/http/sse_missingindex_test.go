package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASubscriptionEndedByAMissingIndexSaysWhyAndWaitsLong: a live
// subscription whose history read met a missing index (dropped by hand
// while serving) answered 200 with `retry: 2000` and was then closed with
// nothing more: EventSource reconnected every 2 s for ever, never told
// why, and on the embedded store the cause was not logged at all. The
// headers are still sent before any read (a read before them would wait
// on a lock on the events), but the close now carries a comment line
// naming the index and how to make it again, and a long retry, and the
// cause is logged at WARN, once a minute at most. On both stores.
func TestASubscriptionEndedByAMissingIndexSaysWhyAndWaitsLong(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		logs := &testlog.Buffer{}
		store := k.Open(t)
		// A live buffer of one event: the subscription from after=0 reads
		// the store for the two before it.
		feed := runFeed(t, store, fanout.Options{PollInterval: 10 * time.Millisecond, Buffer: 1})
		_, srv := serveFeed(t, feed, store, esthttp.Options{Heartbeat: time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil))}, nil)
		notifying := feed.Notifying(store)
		for range 3 {
			if _, err := notifying.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing",
				Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`{}`)}}}); err != nil {
				t.Fatal(err)
			}
		}
		const index = "events_event_type_position"
		k.Exec(t, store, "DROP INDEX "+index+map[string]string{"mysql": " ON events", "sqlite": ""}[k.Name])
		read := readProblem(t, srv.URL+"/events?type=A,T&after=0")
		for try := range 2 {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events?type=A,T&after=0", nil)
			req.Header.Set("Accept", "text/event-stream")
			client := &http.Client{Timeout: 30 * time.Second} // a hang guard: the server ends it
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("subscription %d, %s dropped: reading its body: %v (got %q)", try, index, err, body)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("subscription %d, %s dropped: %d %s; want 200 (the headers go before any read)", try, index, resp.StatusCode, body)
			}
			var comment string
			for _, line := range strings.Split(string(body), "\n") {
				if strings.HasPrefix(line, ": ") && strings.Contains(line, index) {
					comment = line
				}
			}
			if comment == "" || !strings.Contains(comment, "make it again with") {
				t.Errorf("subscription %d, %s dropped: body %q; want a comment line naming the index and the statement that makes it", try, index, body)
			}
			if !strings.Contains(string(body), "retry: 60000\n") {
				t.Errorf("subscription %d, %s dropped: body %q; want a last retry: 60000", try, index, body)
			}
			// What an EventSource can see: comments dispatch nothing, so the
			// end carries the read's problem as a named event.
			if got := problemEvent(t, body); got != read {
				t.Errorf("subscription %d, %s dropped: its event: problem said %+v; want the read's 503 problem %+v", try, index, got, read)
			}
		}
		if n := strings.Count(logs.String(), `level=WARN msg="subscription ended: an index of the database's is missing`); n != 1 {
			t.Errorf("two subscriptions ended by %s missing logged %d WARN lines; want one:\n%s", index, n, logs.String())
		}
	})
}

// endProblem is the problem+json fields a subscription's end and a read's
// answer are compared on.
type endProblem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// readProblem reads url as a page and returns its problem, which must be a 503.
func readProblem(t *testing.T, url string) endProblem {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p endProblem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET %s: %d, %+v (%v); want a 503 problem", url, resp.StatusCode, p, err)
	}
	return p
}

// problemEvent returns the data of body's one `event: problem` frame, as
// EventSource would dispatch it; the zero value if there is none.
func problemEvent(t *testing.T, body []byte) endProblem {
	t.Helper()
	var p endProblem
	parser := ssetest.NewParser(bytes.NewReader(body), "")
	for n := 0; ; {
		f, _, err := parser.Next()
		if err != nil {
			return p
		}
		if f.Event != "problem" {
			continue
		}
		if n++; n > 1 {
			t.Fatalf("body %q has two problem events; want one", body)
		}
		if err := json.Unmarshal([]byte(f.Data), &p); err != nil {
			t.Fatalf("the problem event's data %q: %v", f.Data, err)
		}
	}
}

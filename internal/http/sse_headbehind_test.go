package http_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStartPastAHeadBehindItsEventsIsTheDamageNotAStartAhead: with the
// log's head behind its events (log_head edited by hand, tables restored
// from dumps taken apart), an EventSource resuming from the last event it
// got, which is stored but past the head, was answered 409
// starting-point-ahead, saying its id may come from another database and
// to subscribe again from after=0: it stopped for good, and a client that
// followed the advice read the whole log again, for the server's damage.
// It is the damage's 503 (as appends and /readyz are), naming the head,
// without Retry-After, and once the head is mended the same start
// resumes. Found by the twenty-third session's black-box re-test (F2).
// A subscription from below the head is served, reads history up to the
// head, and ends once the feed meets the events past it (it streamed them
// as live events until the twenty-fourth session's reviews).
func TestAStartPastAHeadBehindItsEventsIsTheDamageNotAStartAhead(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		// One place per client: a start at the limit is told too.
		store, _, srv := liveServerOf(t, k, esthttp.Options{MaxSubscribers: 2, MaxSubscribersPerClient: 1}, nil)
		for range 5 {
			_, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing",
				Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		k.Exec(t, store, "UPDATE log_head SET position = 3 WHERE id = 1")

		var held *http.Response // a subscription open, holding the client's place
		get := func(path string, header map[string]string) (int, string, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			for name, v := range header {
				req.Header.Set(name, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if held == nil && resp.StatusCode == http.StatusOK && path == "/events?after=0" {
				held = resp
				return resp.StatusCode, "", ""
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				return resp.StatusCode, "", "" // a subscription: it goes on
			}
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body), resp.Header.Get("Retry-After")
		}
		sse := map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "5"}
		for _, c := range []struct {
			what   string
			path   string
			header map[string]string
		}{
			{"a subscription with Last-Event-ID 5", "/events", sse},
			{"a subscription after=4", "/events?after=4", map[string]string{"Accept": "text/event-stream"}},
			{"a page with " + esthttp.MinPositionHeader + " 5", "/events", map[string]string{esthttp.MinPositionHeader: "5"}},
			{"a subscription with Last-Event-ID 5 at the limit", "", sse},
		} {
			if c.path == "" {
				if status, body, _ := get("/events?after=0", map[string]string{"Accept": "text/event-stream"}); status != http.StatusOK {
					t.Fatalf("a subscription from the start, the head behind: %d %s; want it served", status, body)
				}
				c.path = "/events"
			}
			status, body, retry := get(c.path, c.header)
			if status != http.StatusServiceUnavailable || !strings.Contains(body, "log head is behind") || retry != "" ||
				strings.Contains(body, "starting-point-ahead") || strings.Contains(body, "after=0") {
				t.Errorf("%s, the log's head (3) behind its events (5): %d (Retry-After %q) %s; "+
					"want the damage's 503, naming the log head, without Retry-After (no retry mends it), not a start ahead", c.what, status, retry, body)
			}
		}

		// The subscription from the start reads history up to the head (3),
		// and ends once the feed's tailer meets 4 and 5 past it: they are
		// the damage, not live events (it streamed them as live before).
		ended := make(chan []string, 1)
		go func() {
			var got []string
			p := ssetest.NewParser(bufio.NewReader(held.Body), "")
			for {
				f, _, err := p.Next()
				if err != nil {
					break
				}
				if f.HasID && f.HasData {
					got = append(got, f.ID)
				}
			}
			ended <- got
		}()
		select {
		case got := <-ended:
			if slices.Contains(got, "4") || slices.Contains(got, "5") {
				t.Errorf("a subscription from the start, the head (3) behind its events (5), got the events %v; want none past 3", got)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("a subscription from the start, the head (3) behind its events (5), did not end in 30 s; want it ended by the damage")
		}
		held.Body.Close()                                                 // its place is given back once the server sees it go
		k.Exec(t, store, "UPDATE log_head SET position = 5 WHERE id = 1") // mended
		status, body, _ := get("/events", sse)
		// Until the server sees the held one go, and the feed's next poll
		// finds the head mended (it answers the damage it met till then).
		for i := 0; i < 3000 && status == http.StatusServiceUnavailable && (strings.Contains(body, "already holds") || strings.Contains(body, "log head is behind")); i++ {
			time.Sleep(10 * time.Millisecond)
			status, body, _ = get("/events", sse)
		}
		if status != http.StatusOK {
			t.Errorf("a subscription with Last-Event-ID 5 once the head is mended: %d %s; want it to resume (200)", status, body)
		}
		if status, body, _ := get("/events", map[string]string{"Accept": "text/event-stream", "Last-Event-ID": "9"}); status != http.StatusConflict ||
			!strings.Contains(body, "starting-point-ahead") {
			t.Errorf("a subscription with Last-Event-ID 9 past a sound log's head (5): %d %s; want 409 starting-point-ahead", status, body)
		}
	})
}

package http_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestALiveSubscriptionEndsCleanlyWhenTheLogGoesBack restores the database
// under a live subscription, as restoring an older backup does: the
// response must end cleanly, so that an EventSource reconnects with its
// Last-Event-ID, and that is past the log's head now: the contract's 409
// starting-point-ahead, where one from the restored head resumes.
func TestALiveSubscriptionEndsCleanlyWhenTheLogGoesBack(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store, _, srv := liveServerOf(t, k, esthttp.Options{}, nil)
		for range 5 {
			_, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "thing",
				Events: []eventstore.NewEvent{{Type: "Happened", Data: []byte(`{}`)}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		conn, _, p := rawSubscribe(t, srv, "HTTP/1.1", 0, nil)

		k.Exec(t, store, "DELETE FROM events WHERE position > 3")
		k.Exec(t, store, "DELETE FROM streams WHERE stream_id NOT IN (SELECT stream_id FROM events)")
		k.Exec(t, store, "UPDATE log_head SET position = 3 WHERE id = 1")

		conn.SetReadDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck // the read fails if it does not hold
		for {
			f, _, err := p.Next()
			if err == nil {
				if !f.IsComment() {
					t.Fatalf("after the log went back, the subscription sent %s; want it to end", f)
				}
				continue
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after the log went back, the subscription's response ended with %v; want a clean end (EOF)", err)
			}
			break
		}

		for _, tc := range []struct {
			last   string
			status int
		}{{"5", http.StatusConflict}, {"3", http.StatusOK}} {
			req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("Last-Event-ID", tc.last)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body []byte
			if tc.status != http.StatusOK {
				body, _ = io.ReadAll(resp.Body)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || (tc.status == http.StatusConflict && !strings.Contains(string(body), "starting-point-ahead")) {
				t.Errorf("reconnecting with Last-Event-ID %s: %d %s; want %d", tc.last, resp.StatusCode, body, tc.status)
			}
		}
	})
}

package http_test

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/ssetest"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnIDOnlyFrameComesOnlyWhereAFilterSkippedEvents: an `id:`-only frame
// is sent at heartbeat time on a filtered log subscription whose filter
// skipped events since its last frame, and nowhere else. An unfiltered one
// started at the head (after=head, or Last-Event-ID: head) got `id: head` at
// its first heartbeat, repeating the id the client sent: the frame's last id
// started at 0, not at the subscription's starting point, so the caught-up
// position looked like progress past a skipped event. A hand-written parser
// that takes every block as an event saw an empty one. On both stores.
// Found by the twenty-ninth session's black-box test (F1).
func TestAnIDOnlyFrameComesOnlyWhereAFilterSkippedEvents(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store, _, srv := liveServerOf(t, k, esthttp.Options{Heartbeat: 20 * time.Millisecond}, nil)
		// Positions 1 and 2: an order; 3 and 4: an invoice. The head is 4.
		order, invoice := uuid.New(), uuid.New()
		for _, a := range []struct {
			id  uuid.UUID
			typ string
		}{{order, "order"}, {invoice, "invoice"}} {
			if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: a.id, StreamType: a.typ,
				Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`{}`)}, {Type: "B", Data: []byte(`{}`)}}}); err != nil {
				t.Fatal(err)
			}
		}
		const head = 4
		for _, c := range []struct {
			name, path, lastEventID string
			want                    string // the id of the id-only frame; "" for none
		}{
			{"the log from the start", "/events", "", ""},
			{"the log after=0", "/events?after=0", "", ""},
			{"the log resumed at 0", "/events", "0", ""},
			{"the log after=2", "/events?after=2", "", ""},
			{"the log at its head", "/events?after=" + strconv.Itoa(head), "", ""},
			{"the log resumed at its head", "/events", strconv.Itoa(head), ""},
			{"a stream from its start", "/streams/" + order.String() + "/events", "", ""},
			{"a stream past its version", "/streams/" + order.String() + "/events?from=3", "", ""},
			{"a stream resumed at its version", "/streams/" + order.String() + "/events", "2", ""},
			{"a filter that skipped the last events", "/events?stream_type=order", "", strconv.Itoa(head)},
			{"a filter that skipped the last events, resumed", "/events?stream_type=order", "1", strconv.Itoa(head)},
			{"a filter that skipped only the first events", "/events?stream_type=invoice", "", ""},
			{"a filter that skipped nothing", "/events?stream_type=invoice&after=2", "", ""},
			{"a filter at the head", "/events?stream_type=order&after=" + strconv.Itoa(head), "", ""},
			{"a filter resumed at the head", "/events?stream_type=order", strconv.Itoa(head), ""},
		} {
			if got := idOnlyFrameAtFirstHeartbeat(t, srv.URL+c.path, c.lastEventID); got != c.want {
				t.Errorf("%s (%s, Last-Event-ID %q): id-only frame before the first keep-alive after caught-up: %q; want %q",
					c.name, c.path, c.lastEventID, got, c.want)
			}
		}
	})
}

// idOnlyFrameAtFirstHeartbeat subscribes to url (with Last-Event-ID
// lastEventID, if not empty), reads up to the first keep-alive after the
// caught-up frame, and returns the id of the id-only frame read meanwhile
// ("" if none). Only frames after caught-up are looked at: that is where
// the heartbeat's frame of the caught-up position comes.
func idOnlyFrameAtFirstHeartbeat(t *testing.T, url, lastEventID string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // against a hang, not a bound on the server
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribing to %s: status %d, want 200", url, resp.StatusCode)
	}
	p := ssetest.NewParser(bufio.NewReader(resp.Body), lastEventID)
	caughtUp, idOnly := false, ""
	for {
		f, _, err := p.Next()
		if err != nil {
			t.Fatalf("subscription %s ended before a keep-alive after caught-up: %v", url, err)
		}
		switch {
		case f.Event == "caught-up":
			caughtUp = true
		case f.IsComment():
			if caughtUp {
				return idOnly
			}
		case f.HasID && !f.HasData && f.Event == "" && caughtUp:
			if idOnly != "" {
				t.Errorf("subscription %s: a second id-only frame %s after id %s", url, f, idOnly)
			}
			idOnly = f.ID
		case f.HasData && !caughtUp: // history
		case f.HasID && !f.HasData && f.Event == "": // progress before caught-up: not what this is about
		case f.Retry != "":
		default:
			t.Errorf("subscription %s: unexpected frame %s", url, f)
		}
	}
}

package http

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/fanout"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestASlowReaderGetsTheExactFramesOfEventsOfEverySize: large frames are
// written by reference with one writev, which a socket that takes a few
// bytes at a time splits anywhere: in a chunk's size line, in a frame's
// head, in the event's own data. A client that reads slowly through a small
// buffer, while another client stalls and holds large frames pinned (so that
// some of the first one's events are declined from the live buffer and read
// from the store), must read exactly the frames of every event, byte for
// byte: events of 20 B, either side of a frame's 8 KiB bound, 40 KiB (data
// shared with the event), 40 KiB on several lines (a copy), with large
// metadata, and 900 KiB. Once both are done, nothing is pinned. On both
// stores.
func TestASlowReaderGetsTheExactFramesOfEventsOfEverySize(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s, feed := feedServer(t, store, fanout.Options{PollInterval: 10 * time.Millisecond}, Options{Heartbeat: time.Hour, StallTimeout: time.Minute})
		s.frames.pinLimit = 512 << 10 // less than one of the largest frames
		srv := serveRaw(t, s, true)

		open := func(rcvbuf int) (net.Conn, io.Reader) {
			t.Helper()
			c, resp := subscribeRaw(t, srv, rcvbuf)
			opening := "retry: 2000\n\nevent: caught-up\ndata: 0\n\n"
			b := make([]byte, len(opening))
			c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
			if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != opening {
				t.Fatalf("the subscription opened with %q, %v; want %q", b, err, opening)
			}
			return c, resp.Body
		}
		stalled, _ := open(64 << 10) // reads nothing more: its writes hold their frames
		_ = stalled
		slow, body := open(32 << 10)

		pad := func(n int, c byte) string { return strings.Repeat(string(c), n) }
		lines := func(n int) string { // JSON of about n bytes over several lines
			var b strings.Builder
			b.WriteString("{\n")
			for i := 0; b.Len() < n; i++ {
				fmt.Fprintf(&b, "  \"k%d\": \"%s\",\n", i, pad(60, 'l'))
			}
			b.WriteString("  \"end\": true\n}")
			return b.String()
		}
		type ev struct{ data, meta string }
		var evs []ev
		for round := range 3 {
			for _, n := range []int{20, 8<<10 - 400, 8<<10 - 250 + round, 8<<10 - 150, 8<<10 + 100} {
				evs = append(evs, ev{data: `{"pad":"` + pad(n, 'a'+byte(round)) + `"}`})
			}
			evs = append(evs,
				ev{data: `{"pad":"` + pad(40<<10, 'm') + `"}`},
				ev{data: lines(40 << 10)},
				ev{data: `{"s":1}`, meta: `{"pad":"` + pad(40<<10, 'q') + `"}`},
				ev{data: lines(3 << 10), meta: lines(36 << 10)},
				ev{data: `{"pad":"` + pad(900<<10, 'z') + `"}`},
			)
		}
		ns := feed.Notifying(store)
		for i, e := range evs {
			ne := eventstore.NewEvent{Type: "X", Data: []byte(e.data)}
			if e.meta != "" {
				ne.Metadata = []byte(e.meta)
			}
			if _, err := ns.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{ne}}); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}

		// The frames the log's events must be, encoded once from a read of
		// the store, whole.
		var want []byte
		page, err := store.ReadAll(context.Background(), eventstore.ReadAllOptions{Limit: len(evs)})
		if err != nil {
			t.Fatal(err)
		}
		for e, err := range page.Events {
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, "id: "+strconv.FormatInt(e.Position, 10)+"\ndata: "...)
			want = encodeEvent(want, oneLine(&e))
			want = append(want, "\n\n"...)
		}

		// Read it a few bytes at a time, with pauses: the server's socket
		// is full most of the time, and its writes partial.
		got := make([]byte, 0, len(want))
		buf := make([]byte, 4<<10)
		slow.SetReadDeadline(time.Now().Add(60 * time.Second)) //nolint:errcheck
		for i := 0; len(got) < len(want); i++ {
			n := min(1+i%4093, len(want)-len(got))
			m, err := body.Read(buf[:n])
			got = append(got, buf[:m]...)
			if err != nil {
				break
			}
			if i%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		if !bytes.Equal(got, want) {
			at := 0
			for at < min(len(got), len(want)) && got[at] == want[at] {
				at++
			}
			lo := max(0, at-80)
			t.Fatalf("a slow reader read %d bytes, %d expected; they differ from byte %d: got %q, want %q",
				len(got), len(want), at, got[lo:min(len(got), at+80)], want[lo:min(len(want), at+80)])
		}
		if feed.Dropped() == 0 {
			t.Error("no event was declined from the live buffer or fell behind it: the test proves less than it says")
		}
		stalled.Close()
		slow.Close()
		deadline := time.Now().Add(5 * time.Second)
		for (s.frames.pinnedBytes() > 0 || feed.Subscribers() > 0) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := s.frames.pinnedBytes(); n > 0 {
			t.Errorf("both clients gone, %d bytes of large frames are still pinned; want none", n)
		}
		if n := feed.CatchUpBytes(); n > 0 {
			t.Errorf("both clients gone, %d bytes of the catch-up budget are still held; want none", n)
		}
	})
}

// TestTheFramesWrittenAsASubscriptionGoesLiveAreNotLost: the turn that
// brings a subscription live (its history, then caught-up) may end with a
// write of a batch that reached maxBatchBytes. Written to net/http's
// response buffer in pieces (a large frame's by reference), its last ones
// stayed there unflushed, and net/http dropped them when the subscription
// took its connection over: here the end of the last event's frame and the
// caught-up frame, which the caught-up frame took over the bound. The client
// must read every frame whole, caught-up included, and then the live ones.
// On both stores.
func TestTheFramesWrittenAsASubscriptionGoesLiveAreNotLost(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		s, feed := feedServer(t, store, fanout.Options{PollInterval: 10 * time.Millisecond}, Options{Heartbeat: time.Hour, StallTimeout: time.Minute})
		srv := serveRaw(t, s, false)
		ns := feed.Notifying(store)
		appendPad := func(n int) {
			t.Helper()
			data := `{"pad":"` + strings.Repeat("p", n) + `"}`
			if _, err := ns.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
				Events: []eventstore.NewEvent{{Type: "X", Data: []byte(data)}}}); err != nil {
				t.Fatal(err)
			}
		}
		// frames returns the frames of the log's events from the store.
		frames := func() ([]byte, []eventstore.Event) {
			t.Helper()
			page, err := store.ReadAll(context.Background(), eventstore.ReadAllOptions{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var b []byte
			var evs []eventstore.Event
			for e, err := range page.Events {
				if err != nil {
					t.Fatal(err)
				}
				b = append(b, "id: "+strconv.FormatInt(e.Position, 10)+"\ndata: "...)
				b = encodeEvent(b, oneLine(&e))
				b = append(b, "\n\n"...)
				evs = append(evs, e)
			}
			return b, evs
		}
		// Four frames inline, then one over maxCachedFrame (written from
		// the frame cache, by reference) whose pad makes the history 10
		// bytes short of maxBatchBytes: the caught-up frame takes the batch
		// over it, and the batch is written with no flush after it.
		for range 4 {
			appendPad(5700)
		}
		_, evs := frames()
		fifth := evs[3] // as long as the fifth's frame will be, with no pad
		fifth.Position, fifth.Data = 5, []byte(`{"pad":""}`)
		base := len("id: 5\ndata: ") + len(encodeEvent(nil, fifth)) + len("\n\n")
		history, _ := frames()
		appendPad(maxBatchBytes - 10 - len(history) - base)
		history, evs = frames()
		caughtUp := "event: caught-up\ndata: 5\n\n"
		feedAt(t, feed, 5) // else the history may come in two turns, up to the feed's head and then the rest
		if len(evs) != 5 || len(history) >= maxBatchBytes || len(history)+len(caughtUp) < maxBatchBytes || s.frames.frame(&evs[4]).json != nil {
			t.Fatalf("the test's history is %d events, %d bytes of frames, its last one whole in the cache: %v; want 5 events, the caught-up frame taking them over %d bytes, the last one in pieces",
				len(evs), len(history), s.frames.frame(&evs[4]).json != nil, maxBatchBytes)
		}

		// Over HTTP/1.1, where the subscription takes its connection over,
		// and over HTTP/2, where it cannot: there the bytes waited in
		// net/http's buffer for the next flush (a keep-alive, an hour here).
		c, resp := subscribeRaw(t, srv, 0)
		c.SetReadDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck // bounds a hang
		h2 := httptest.NewUnstartedServer(s)
		h2.Config.ConnContext = ConnContext
		h2.EnableHTTP2 = true
		h2.StartTLS()
		t.Cleanup(h2.Close)
		// The client leaves before h2.Close, which waits for the subscription.
		ctx, leave := context.WithTimeout(context.Background(), 20*time.Second) // bounds a hang
		t.Cleanup(leave)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h2.URL+"/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/event-stream")
		resp2, err := h2.Client().Do(req)
		if err != nil || resp2.ProtoMajor != 2 || resp2.StatusCode != http.StatusOK {
			t.Fatalf("subscribing over HTTP/2: %v, %v; want an HTTP/2 200", resp2, err)
		}
		bodies := []struct {
			proto string
			body  io.Reader
		}{{"HTTP/1.1", resp.Body}, {"HTTP/2", resp2.Body}}

		want := "retry: 2000\n\n" + string(history) + caughtUp
		for _, b := range bodies {
			got := make([]byte, len(want))
			n, err := io.ReadFull(b.body, got)
			if err != nil || string(got) != want {
				t.Fatalf("%s: the subscription opened with %d bytes of %d, %v; the last 120 read: %q; want them to end %q",
					b.proto, n, len(want), err, got[max(0, n-120):n], want[len(want)-120:])
			}
		}
		appendPad(20)
		all, _ := frames()
		live := all[len(history):]
		for _, b := range bodies {
			got := make([]byte, len(live))
			if n, err := io.ReadFull(b.body, got); err != nil || !bytes.Equal(got, live) {
				t.Fatalf("%s: the live frame after it: %q, %v; want %q", b.proto, got[:n], err, live)
			}
		}
	})
}

// feedAt waits until the live feed's head has reached position p: a
// subscription of its own is handed the event there, which the feed does
// only once its head has reached it.
func feedAt(t *testing.T, feed *fanout.Feed, p int64) {
	t.Helper()
	sub := feed.Subscribe(eventstore.SubscribeOptions{After: p - 1})
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // bounds a hang
	defer cancel()
	var got int64
	for {
		if err := sub.Next(ctx, func(d eventstore.Delivery) error {
			if d.Event != nil {
				got = d.Event.Position
			}
			return nil
		}); err != nil {
			t.Fatalf("waiting for the live feed to reach position %d: %v", p, err)
		}
		if got >= p {
			return
		}
		select {
		case <-sub.Ready():
		case <-ctx.Done():
			t.Fatalf("the live feed did not reach position %d in 10 s", p)
		}
	}
}

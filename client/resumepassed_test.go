package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestAResumptionWhoseEventAnIDOnlyFrameWentPastEndsWithErrLogReset: a
// resumption of a filtered log subscription asks again for the event it
// delivered last, to see the log is the one it followed. On a log
// restored from an older backup the event there is another, which the
// filter may leave out: the server passes it, and at heartbeat time
// sends an id-only frame past it. The client moved its resume point
// there and, the connection dropping before the caught-up, resumed past
// it unchecked, delivering the new log's events as the next of the old.
// The id-only frame that goes past the event asked for, before it came,
// is the news that it is gone: the subscription ends with ErrLogReset,
// delivering nothing of the new log.
func TestAResumptionWhoseEventAnIDOnlyFrameWentPastEndsWithErrLogReset(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		startEventStream(w)
		switch conns.Add(1) {
		case 1:
			io.WriteString(w, "id: 5\ndata: "+logEvent("old", 5)+"\n\n") //nolint:errcheck // a test's answer
		case 2:
			// Asked again for 5 (Last-Event-ID: 4): the restored log's
			// event there is not the filter's; a heartbeat moves past it.
			io.WriteString(w, "id: 9\n\n: keep-alive\n\n") //nolint:errcheck // a test's answer
		default:
			io.WriteString(w, "id: 10\ndata: "+logEvent("new", 10)+"\n\nevent: caught-up\ndata: 10\n\n") //nolint:errcheck // a test's answer
		}
	})
	c := newClient(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []int64
	var end error
	for m, err := range c.Subscribe(ctx, SubscribeOptions{StreamTypes: []string{"order"}, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}) {
		if err != nil {
			end = err
			break
		}
		if !m.CaughtUp {
			got = append(got, m.Event.Position)
		}
	}
	if !errors.Is(end, ErrLogReset) || len(got) != 1 {
		t.Errorf("a resumption whose event asked for again an id-only frame went past: delivered positions %v, then %v; expected only 5, then ErrLogReset", got, end)
	}
}

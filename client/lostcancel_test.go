package client

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// ownDone is a context whose Done channel is its own, not a cancelCtx's
// (a tracing or request-scoped context of another package): the context
// package watches such a parent with a goroutine for each child context
// made of it, until the child or the parent ends.
type ownDone struct {
	context.Context
	done chan struct{}
}

func (c ownDone) Done() <-chan struct{} { return c.done }

func (c ownDone) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}

// TestEveryRequestReleasesTheContextsItMakes: each request bounded by the
// request timeout (every call but a subscription's, by default) made a
// context.WithCancel of the call's context, then replaced it with the
// timeout's without ever cancelling it: a child context left for the
// call's context's lifetime, in its children (memory, call after call,
// under a program's long-lived context) or, under a context of another
// kind, a goroutine each. A long-running program leaked one per call. Not
// parallel: it counts the process's goroutines.
func TestEveryRequestReleasesTheContextsItMakes(t *testing.T) {
	stream := uuid.New()
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stream_id":"`+stream.String()+`","stream_type":"order","version":1,"created_at":"2026-12-04T00:00:00Z","updated_at":"2026-12-04T00:00:00Z","events":[`+eventJSON(uuid.New(), stream, 1, 1)+`]}`) //nolint:errcheck // a test's answer
	})
	ctx := ownDone{Context: context.Background(), done: make(chan struct{})}
	defer close(ctx.done)
	// watching counts the goroutines that watch ctx for a child context.
	watching := func() int {
		buf := make([]byte, 4<<20)
		return strings.Count(string(buf[:runtime.Stack(buf, true)]), "created by context.(*cancelCtx).propagateCancel")
	}
	const calls = 20
	for range calls {
		if _, err := c.Stream(ctx, stream); err != nil {
			t.Fatalf("Stream: %v", err)
		}
		for _, err := range c.ReadStream(ctx, stream, ReadStreamOptions{}) {
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
		}
	}
	// A safety bound only: a child ended with its request stops being
	// watched at once, on a loaded machine in its time; one never ended
	// is watched as long as ctx lives.
	deadline := time.Now().Add(30 * time.Second)
	for watching() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := watching(); n > 0 {
		t.Errorf("%d goroutines still watch the calls' context for a child after %d calls, all ended; expected none", n, 2*calls)
	}
}

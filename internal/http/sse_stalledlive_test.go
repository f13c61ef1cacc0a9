package http_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestStalledLiveSubscribersShareTheLargeFramesTheyWaitOn: a live
// subscriber whose client stopped reading waits in its write until the
// stall timeout cuts it, and each held its own copy of the frames it was
// writing: 5,000 of them stalled on events of 1 MiB held 5 GiB. The frame
// of a large event is now the event's own data between a head and a tail,
// shared by every subscriber: 40 subscribers stalled on three events of
// 900 KiB hold each frame they wait on by reference, the one frame of its
// event in the server's frame cache, so that what they hold is those
// frames once, not 40 copies of them. On both stores.
//
// What is shared is read from the frame cache (LargeFrames), not the heap:
// the heap also holds what the store and its driver keep of large rows,
// which grew with the machine's load (13.7 MB against 3.8 to 8.3 MB
// quiet, for 2.7 MB of events).
func TestStalledLiveSubscribersShareTheLargeFramesTheyWaitOn(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, testStalledLiveSubscribersShare)
}

func testStalledLiveSubscribersShare(t *testing.T, k teststore.Kind) {
	store, h, srv := liveServerOf(t, k, esthttp.Options{Heartbeat: time.Hour, StallTimeout: time.Minute}, func(l net.Listener) net.Listener {
		return esthttp.SmallSendBuffers{l.(*net.TCPListener)}
	})
	const subs, events, size = 40, 3, 900 << 10
	for range subs {
		rawSubscribe(t, srv, "HTTP/1.1", 4096, nil) // caught up, then never read again
	}
	data := fmt.Appendf(nil, `{"pad":"%s"}`, strings.Repeat("x", size))
	for range events {
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: data}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Every subscriber's write of the first event now waits on its client
	// (a send buffer of 8 KiB, a receive buffer of 4 KiB), holding what it
	// writes: a hold on each large frame it holds by reference. Held by
	// reference, each frame is counted once: the events, not 40 frames of
	// each.
	most := events * (size + 4<<10)
	var frames, pins, pinned int
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if frames, pins, pinned = esthttp.LargeFrames(h); pins >= subs || pinned > most {
			break
		}
	}
	t.Logf("%d stalled live subscribers: %d large frames kept, %d holds on them, %d KiB held", subs, frames, pins, pinned>>10)
	if pinned > most {
		t.Fatalf("%d live subscribers stalled on %d events of %d KiB hold %d KiB of large frames; want at most %d KiB (each event's frame, shared)",
			subs, events, size>>10, pinned>>10, most>>10)
	}
	if pins < subs {
		t.Fatalf("%d live subscribers stalled on %d events of %d KiB hold %d large frames of the cache by reference; want each to hold the frame it waits on (copies of their own?)",
			subs, events, size>>10, pins)
	}
}

// heapBytes returns the bytes of live objects on the heap, after a full
// collection.
func heapBytes() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

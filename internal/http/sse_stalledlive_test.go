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
// 900 KiB hold about those events once, not 40 copies of them. On both
// stores.
//
// It measures the heap, so it runs alone: not in parallel with other tests
// (Go runs the parallel ones once the others are done), and one store after
// the other.
func TestStalledLiveSubscribersShareTheLargeFramesTheyWaitOn(t *testing.T) {
	teststore.ForEachSerial(t, testStalledLiveSubscribersShare)
}

func testStalledLiveSubscribersShare(t *testing.T, k teststore.Kind) {
	store, _, srv := liveServerOf(t, k, esthttp.Options{Heartbeat: time.Hour, StallTimeout: time.Minute}, func(l net.Listener) net.Listener {
		return esthttp.SmallSendBuffers{l.(*net.TCPListener)}
	})
	const subs, events, size = 40, 3, 900 << 10
	for range subs {
		rawSubscribe(t, srv, "HTTP/1.1", 4096, nil) // caught up, then never read again
	}
	before := heapBytes()
	data := fmt.Appendf(nil, `{"pad":"%s"}`, strings.Repeat("x", size))
	for range events {
		if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: uuid.New(), StreamType: "t",
			Events: []eventstore.NewEvent{{Type: "X", Data: data}}}); err != nil {
			t.Fatal(err)
		}
	}
	data = nil
	// Every subscriber's write of the first event now waits on its client
	// (a send buffer of 8 KiB, a receive buffer of 4 KiB).
	time.Sleep(time.Second)
	held := heapBytes() - before
	t.Logf("%d stalled live subscribers hold %d KiB more of the heap", subs, held>>10)
	// The live buffer holds the events once (2.7 MB); copies for each
	// subscriber were 40 times one or more of them.
	if most := int64(subs * size / 4); held > most {
		t.Errorf("%d live subscribers stalled on %d events of %d KiB hold %d KiB more of the heap; want at most %d KiB (the events, shared)",
			subs, events, size>>10, held>>10, most>>10)
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

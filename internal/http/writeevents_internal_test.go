package http

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAPageOfOneEventIsWrittenWithoutAPagesBuffers: a read's response is
// written through buffers sized for a page of large events (36 KB), and a
// client polling near the head mostly gets one event or none: each such read
// made all of them again. The buffers are reused, so a read of one event
// allocates about what the event takes.
func TestAPageOfOneEventIsWrittenWithoutAPagesBuffers(t *testing.T) {
	// Not parallel: it counts the bytes the process allocates.
	s := New(nil, Options{})
	page := benchEvents(t, 1)
	events := func(yield func(eventstore.Event, error) bool) {
		for _, e := range page {
			if !yield(e, nil) {
				return
			}
		}
	}
	start := func(h http.Header, b []byte) []byte { return append(b, `{"events":[`...) }
	r := httptest.NewRequest(http.MethodGet, "/events", nil)
	w := newDiscardResponse()
	write := func() {
		if err := s.writeEvents(w, r, events, start); err != nil {
			t.Fatal(err)
		}
	}
	write() // warm
	const writes = 1000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range writes {
		write()
	}
	runtime.ReadMemStats(&after)
	// Reused, they cost a few hundred bytes a write; but the race detector's
	// pools drop a quarter of what they are given.
	if perWrite, most := int(after.TotalAlloc-before.TotalAlloc)/writes, 20<<10; perWrite > most {
		t.Errorf("a page of one event allocated %d bytes to write; want at most %d", perWrite, most)
	}
}

package http

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestTheFrameCacheHoldsLittleOfLargeEvents: every event a subscription
// delivers, history included, goes through the cache of frames, which kept
// each frame whole in one of its 4,096 slots until another position took
// the slot. One subscriber reading a log of events near
// TRIBUTARY_MAX_EVENT_BYTES (1 MiB) then left the server holding 4 GiB of
// frames for good. Only the latest large frames are kept now, a few MiB in
// all; a live one is still encoded once for every subscriber, and every
// frame is still the event's.
func TestTheFrameCacheHoldsLittleOfLargeEvents(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{})
	data := []byte(`{"pad":"` + strings.Repeat("x", 256<<10) + `"}`)
	const events = 200 // 50 MiB of frames
	for p := int64(1); p <= events; p++ {
		e := &eventstore.Event{ID: uuid.New(), StreamID: uuid.New(), StreamType: "thing", Version: 1, Position: p,
			Type: "Big", Data: data, RecordedAt: time.Now().UTC()}
		want := encodeEvent(nil, *e)
		if got := s.frames.json(e); !bytes.Equal(got, want) {
			t.Fatalf("frame of position %d is not the event's JSON (%d bytes, want %d)", p, len(got), len(want))
		}
		// What every other subscriber gets: the same frame, not encoded again.
		first := s.frames.frame(e)
		if again := s.frames.frame(e); again != first {
			t.Fatalf("frame of position %d was encoded again for a second subscriber", p)
		}
	}
	held := 0
	for i := range s.frames.slots {
		if ce := s.frames.slots[i].Load(); ce != nil {
			held += ce.size
		}
	}
	// The most the cache may hold of frames this large: 16 MiB, and the
	// latest frame past it.
	if most := 16<<20 + 257<<10; held > most {
		t.Errorf("after %d frames of 256 KiB the cache holds %d MiB; want at most %d MiB", events, held>>20, most>>20)
	}
}

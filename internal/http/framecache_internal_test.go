package http

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// json returns the event's frame from the cache as one line of JSON, in one
// slice: what a subscriber is sent of it, pieces or not.
func (c *frameCache) json(e *eventstore.Event) []byte {
	ce := c.frame(e)
	if ce.json != nil {
		return ce.json
	}
	return slices.Concat(ce.parts...)
}

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

// TestALargeFrameIsTheEventsJSONAndSharesItsData: a frame over 8 KiB is
// written as pieces (head, data, metadata, tail) that share the event's
// large data and metadata rather than copy them; small values are copied
// into the frame's own pieces (a store reads them into shared blocks, which
// a frame would keep alive whole), and values not on one line are
// compacted, a copy the frame counts. Whatever the sizes and line breaks,
// the pieces are the event's JSON on one line, byte for byte.
func TestALargeFrameIsTheEventsJSONAndSharesItsData(t *testing.T) {
	t.Parallel()
	value := func(n int, multiline bool) []byte {
		if n == 0 {
			return nil
		}
		if multiline {
			return []byte("{\n \"pad\": \"" + strings.Repeat("m", n) + "\"\n}")
		}
		return []byte(`{"pad":"` + strings.Repeat("v", n) + `"}`)
	}
	for _, dataSize := range []int{10, 9 << 10, 40 << 10, 300 << 10} {
		for _, metaSize := range []int{0, 10, 9 << 10, 40 << 10} {
			for _, multiline := range []bool{false, true} {
				e := &eventstore.Event{ID: uuid.New(), StreamID: uuid.New(), StreamType: "thing", Version: 3, Position: 7,
					Type: "Big", Data: value(dataSize, multiline), Metadata: value(metaSize, multiline), RecordedAt: time.Now().UTC()}
				name := fmt.Sprintf("data %d, metadata %d, multiline %t", dataSize, metaSize, multiline)
				ce := newFrame(e)
				want := encodeEvent(nil, oneLine(e))
				got := ce.json
				if got == nil {
					got = slices.Concat(ce.parts...)
				}
				if !bytes.Equal(got, want) || ce.size != len(want) {
					t.Fatalf("%s: frame of %d bytes (size %d) is not the event's JSON on one line (%d bytes)", name, len(got), ce.size, len(want))
				}
				shared, copied := 0, 0
				for _, p := range ce.parts {
					if sameSlice(p, e.Data) || sameSlice(p, e.Metadata) {
						shared += len(p)
					}
				}
				for _, v := range [][]byte{e.Data, e.Metadata} {
					if len(v) >= sharedData {
						if multiline {
							copied += len(v)
						} else if !slices.ContainsFunc(ce.parts, func(p []byte) bool { return sameSlice(p, v) }) {
							t.Errorf("%s: a value of %d bytes was copied into the frame; want it shared", name, len(v))
						}
					}
				}
				if multiline && shared > 0 {
					t.Errorf("%s: the frame shares %d bytes of values not on one line; want them compacted", name, shared)
				}
				if (ce.copied > 0) != (copied > 0) || ce.copied < copied {
					t.Errorf("%s: the frame counts %d bytes of copies of large values; want at least %d", name, ce.copied, copied)
				}
			}
		}
	}
}

// TestASmallFrameIsEncodedOnce: most events are small, and every one a
// subscription delivers, history included, is encoded into the frame cache.
// Each was encoded twice: a skeleton of its fields first, to learn whether
// it was small, then whole; an allocation and an encoding more per event
// (a catch-up of a million events: 256 MB more garbage). A small event is
// now encoded once, into the frame, beside the frame's own record.
func TestASmallFrameIsEncodedOnce(t *testing.T) {
	e := &eventstore.Event{ID: uuid.New(), StreamID: uuid.New(), StreamType: "thing", Version: 3, Position: 7,
		Type: "Small", Data: []byte(`{"n":1}`), Metadata: []byte(`{"m":2}`), RecordedAt: time.Now().UTC()}
	if n := testing.AllocsPerRun(100, func() { newFrame(e) }); n > 2 {
		t.Errorf("a frame of a small event made %v allocations; want 2 (the frame and its JSON)", n)
	}
}

// TestAFrameIsWholeExactlyWhenItFitsTheCachesBound: whether a frame is kept
// whole or as pieces is decided on a bound of its size before it is
// encoded; whatever the names (escaped, up to six bytes a byte), the time
// (years of more than four digits) and the sizes around maxCachedFrame, a
// frame is whole exactly when its JSON fits, and is that JSON byte for byte.
func TestAFrameIsWholeExactlyWhenItFitsTheCachesBound(t *testing.T) {
	t.Parallel()
	names := []string{"T", strings.Repeat("n", eventstore.MaxNameLength), strings.Repeat("<\x01\xff", 60)}
	times := []time.Time{time.Date(2026, 12, 5, 1, 2, 3, 456789000, time.UTC), time.Date(-292277022399, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, name := range names {
		for _, at := range times {
			for _, meta := range [][]byte{nil, []byte(`{}`)} {
				for size := maxCachedFrame - 1200; size <= maxCachedFrame+10; size++ {
					e := &eventstore.Event{ID: uuid.New(), StreamID: uuid.New(), StreamType: name, Version: 1 << 62, Position: 1 << 62,
						Type: name, Data: []byte(`"` + strings.Repeat("d", size) + `"`), Metadata: meta, RecordedAt: at}
					want := encodeEvent(nil, *e)
					ce := newFrame(e)
					got := ce.json
					if got == nil {
						got = slices.Concat(ce.parts...)
					}
					if whole := ce.json != nil; whole != (len(want) <= maxCachedFrame) || ce.size != len(want) || !bytes.Equal(got, want) {
						t.Fatalf("data of %d bytes, names of %d: a frame of %d bytes (size %d, whole %t); want the event's %d bytes, whole %t",
							size, len(name), len(got), ce.size, whole, len(want), len(want) <= maxCachedFrame)
					}
				}
			}
		}
	}
}

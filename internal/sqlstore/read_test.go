package sqlstore

import "testing"

// TestFirstChunksFollowEventSizesUpAtOnceAndDownSlowly: the first chunk of a
// range is sized by the events read lately. Small events make it a whole page
// (one query); a chunk of large events makes it small at once, and only a long
// run of small ones makes it large again.
func TestFirstChunksFollowEventSizesUpAtOnceAndDownSlowly(t *testing.T) {
	var z eventSizes
	if got := z.firstChunk(); got != minFirstChunkRows {
		t.Fatalf("before any read: %d rows, want %d", got, minFirstChunkRows)
	}
	z.saw(1000, 60_000) // 60 bytes an event
	if got := z.firstChunk(); got != maxChunkRows {
		t.Fatalf("after small events: %d rows, want a whole page of %d", got, maxChunkRows)
	}
	z.saw(10, 3_000_000) // 300 KB an event
	if got := z.firstChunk(); got != minFirstChunkRows {
		t.Fatalf("after one chunk of large events: %d rows, want %d at once", got, minFirstChunkRows)
	}
	z.saw(1000, 60_000)
	if got := z.firstChunk(); got != minFirstChunkRows {
		t.Fatalf("one chunk of small events after large ones: %d rows, want still %d", got, minFirstChunkRows)
	}
	for range 200 {
		z.saw(1000, 60_000)
	}
	if got := z.firstChunk(); got != maxChunkRows {
		t.Fatalf("after a long run of small events: %d rows, want %d again", got, maxChunkRows)
	}
	z.saw(0, 0) // an empty chunk says nothing
	if got := z.firstChunk(); got != maxChunkRows {
		t.Fatalf("after an empty chunk: %d rows, want %d", got, maxChunkRows)
	}
}

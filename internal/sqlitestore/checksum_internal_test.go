package sqlitestore

import (
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestAnEventsChecksumCoversEachPartAndItsBounds: the checksum an event is
// stored with changes with each part it covers, and with bytes moved across
// a part's bound (from the data to the metadata, from the stream type to
// the event type), which the same bytes in the same order would not show.
// And it is what it was when files began to hold it: a change to what it
// covers would call every event already stored damaged.
func TestAnEventsChecksumCoversEachPartAndItsBounds(t *testing.T) {
	e := eventstore.Event{Position: 7, Version: 3, ID: uuid.MustParse("0193b8a0-0000-7000-8000-000000000001"),
		StreamID: uuid.MustParse("5f0e1d2c-3b4a-4968-8776-655443322110"), StreamType: "order", Type: "Paid",
		Data: []byte(`{"amount":100}`), Metadata: []byte(`{"n":1}`)}
	const want = 0xd80494c4 // CRC-32C of the parts as eventSum lays them out, computed apart from Go
	if got := eventSum(e); got != want {
		t.Errorf("eventSum of the reference event: %#x; expected %#x, as files already hold", got, want)
	}
	changed := map[string]func(e *eventstore.Event){
		"position":                         func(e *eventstore.Event) { e.Position++ },
		"version":                          func(e *eventstore.Event) { e.Version++ },
		"event id":                         func(e *eventstore.Event) { e.ID[15] ^= 1 },
		"stream id":                        func(e *eventstore.Event) { e.StreamID[0] ^= 1 },
		"stream type":                      func(e *eventstore.Event) { e.StreamType = "ordes" },
		"event type":                       func(e *eventstore.Event) { e.Type = "Paie" },
		"a digit of the data":              func(e *eventstore.Event) { e.Data = []byte(`{"amount":108}`) },
		"a digit of the metadata":          func(e *eventstore.Event) { e.Metadata = []byte(`{"n":7}`) },
		"a byte moved data to metadata":    func(e *eventstore.Event) { e.Data, e.Metadata = []byte(`{"amount":100`), []byte(`}{"n":1}`) },
		"a byte moved between the types":   func(e *eventstore.Event) { e.StreamType, e.Type = "orderP", "aid" },
		"metadata moved into the data":     func(e *eventstore.Event) { e.Data, e.Metadata = []byte(`{"amount":100}{"n":1}`), nil },
		"the metadata gone":                func(e *eventstore.Event) { e.Metadata = nil },
		"the data one byte short":          func(e *eventstore.Event) { e.Data = e.Data[:len(e.Data)-1] },
		"the stream and event ids swapped": func(e *eventstore.Event) { e.ID, e.StreamID = e.StreamID, e.ID },
	}
	for what, change := range changed {
		c := e
		change(&c)
		if eventSum(c) == eventSum(e) {
			t.Errorf("eventSum with %s: unchanged; expected another sum", what)
		}
	}
}

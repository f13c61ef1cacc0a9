package sqlitestore_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestJSONAnAppendTookIsReadBackAsItWasByEveryRead: the embedded store
// calls an event damaged, a 503 that fails /readyz, when it does not match
// its checksum (or, stored before checksums, when its data or metadata is
// not JSON in UTF-8) as it reads it. Every event an append
// took must read back byte for byte, and never be called damaged, however
// unusual its JSON: numbers past any float, escapes of every kind (a
// surrogate pair, a lone surrogate, NUL), names given twice, deep nesting,
// characters outside the BMP, whitespace around a value, and scalars as
// data. On both stores, through every read: the log, a stream, one event,
// and the live feed's reads.
func TestJSONAnAppendTookIsReadBackAsItWasByEveryRead(t *testing.T) {
	data := []string{
		`123456789012345678901234567890123456789012345678901234567890`,
		`-1e400`,
		`[1E+308, -0, 0.000000000000000000000000000000001e-999, 1e-400]`,
		`"\ud83d\ude00 \ud800 \udfff \u0000 \\ \/ \b\f\n\r\t \u00e9"`,
		`{"a":1,"a":2,"a":{"a":[]}}`,
		strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
		"\"😀 é ☃ \u2028 \u2029 \x7f\"",
		" \t\r\n{ \"k\" : [ true , false , null ] } \n",
		`null`, `0`, `""`, `true`,
	}
	metadata := [][]byte{
		nil,
		[]byte(`{"a":"x","a":"y"}`),
		[]byte(" \n{\"big\": 18446744073709551616, \"s\": \"\\ud800\"}\t"),
	}
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := k.Open(t)
		ctx := t.Context()
		stream := uuid.New()
		var events []eventstore.NewEvent
		for i, d := range data {
			events = append(events, eventstore.NewEvent{Type: "Tricky", Data: []byte(d), Metadata: metadata[i%len(metadata)]})
		}
		if _, err := s.Append(ctx, eventstore.AppendRequest{StreamID: stream, StreamType: "thing", Events: events}); err != nil {
			t.Fatalf("append tricky but valid JSON: %v", err)
		}
		check := func(how string, i int, e eventstore.Event) {
			t.Helper()
			if !bytes.Equal(e.Data, events[i].Data) || !bytes.Equal(e.Metadata, events[i].Metadata) {
				t.Errorf("%s, event %d: data %.80q metadata %q; expected data %.80q metadata %q as appended",
					how, i, e.Data, e.Metadata, events[i].Data, events[i].Metadata)
			}
		}
		readAll := func(how string, page eventstore.LogPage, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			i := 0
			for e, err := range page.Events {
				if err != nil {
					t.Fatalf("%s, event %d: %v; expected the events appended", how, i, err)
				}
				check(how, i, e)
				i++
			}
			if i != len(events) {
				t.Errorf("%s: %d events; expected %d", how, i, len(events))
			}
		}
		page, err := s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 100})
		readAll("ReadAll", page, err)
		page, err = s.Tail().ReadAll(ctx, eventstore.ReadAllOptions{Limit: 100})
		readAll("Tail().ReadAll", page, err)
		page, err = s.ReadAll(ctx, eventstore.ReadAllOptions{Limit: 100, StreamID: stream, EventTypes: []string{"Tricky"}})
		readAll("ReadAll of the stream and type", page, err)

		for _, dir := range []eventstore.Direction{eventstore.Forward, eventstore.Backward} {
			sp, err := s.ReadStream(ctx, stream, eventstore.ReadStreamOptions{Limit: 100, Direction: dir})
			if err != nil {
				t.Fatalf("ReadStream: %v", err)
			}
			n := 0
			for e, err := range sp.Events {
				if err != nil {
					t.Fatalf("ReadStream %v, event %d: %v; expected the events appended", dir, n, err)
				}
				check("ReadStream", int(e.Version)-1, e)
				n++
			}
			if n != len(events) {
				t.Errorf("ReadStream %v: %d events; expected %d", dir, n, len(events))
			}
		}
		for i := range events {
			e, err := s.Event(ctx, stream, int64(i+1))
			if err != nil {
				t.Fatalf("Event %d: %v; expected the event appended", i+1, err)
			}
			check("Event", i, e)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping after reading every event: %v; expected none called damaged", err)
		}
	})
}

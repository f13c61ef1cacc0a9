package http

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestEncodeAppendResultIsWhatEncodingJSONWrites: the append answer's own
// encoder writes, byte for byte, what encoding/json writes for the
// appendResponse it stands in for.
func TestEncodeAppendResultIsWhatEncodingJSONWrites(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 4, 7, 59, 123456789, time.FixedZone("x", 3600))
	for _, typ := range []string{"order", "Order.v2:line-item_x"} {
		for _, n := range []int{1, 3} {
			res := eventstore.AppendResult{StreamID: uuid.New(), StreamType: typ, Version: int64(10 + n)}
			for i := range n {
				res.Events = append(res.Events, eventstore.RecordedEvent{ID: uuid.New(), Version: int64(11 + i), Position: int64(1000 + i), RecordedAt: at.Add(time.Duration(i))})
			}
			out := appendResponse{StreamID: res.StreamID, StreamType: res.StreamType, Version: res.Version}
			for _, e := range res.Events {
				out.Events = append(out.Events, appendedEventOut{e.ID, e.Version, e.Position, timestamp(e.RecordedAt)})
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(out); err != nil {
				t.Fatal(err)
			}
			got := append(encodeAppendResult(nil, res), '\n')
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("stream type %q, %d events:\n got %s\nwant %s", typ, n, got, want.Bytes())
			}
		}
	}
}

// FuzzAppendTimeIsAppendFormat: appendTime writes what the standard
// library's AppendFormat writes for timeFormat, whatever the time and its
// zone: at the edges of years, days and seconds, before year 0 and after
// 9999 (where it leaves the work to AppendFormat).
func FuzzAppendTimeIsAppendFormat(f *testing.F) {
	for _, t := range []time.Time{
		{},
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 10, 4, 6, 960601999, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 1000, time.FixedZone("", -7*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 999, time.FixedZone("", 14*3600)),
	} {
		_, offset := t.Zone()
		f.Add(t.Unix(), int64(t.Nanosecond()), offset)
	}
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		at := time.Unix(sec, nsec%1e9).In(time.FixedZone("", offset%(24*3600)))
		want := string(at.UTC().AppendFormat([]byte("x"), timeFormat))
		if got := string(appendTime([]byte("x"), at)); got != want {
			t.Fatalf("appendTime(%v) = %q; AppendFormat writes %q", at, got, want)
		}
		js, err := timestamp(at).MarshalJSON()
		if err != nil || string(js) != `"`+want[1:]+`"` {
			t.Fatalf("timestamp(%v).MarshalJSON() = %s, %v; want %q quoted", at, js, err, want[1:])
		}
	})
}

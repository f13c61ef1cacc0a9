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

package mysqlstore

import (
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/eventstore"
	"github.com/tributary-dev/tributary/internal/sqlstore"
)

// TestAnEventBoundStartUpTakesFitsEventsWithTheLongestNames: start-up
// refuses a TRIBUTARY_MAX_EVENT_BYTES that the server's max_allowed_packet
// cannot carry, so that no valid append of one event is refused as too
// large. It sized the worst event with names of 64 characters, where a
// name holds up to 128 (eventstore.MaxNameLength): under the largest bound
// it took, an event of that size with the longest stream type and event
// type was refused as a 413.
func TestAnEventBoundStartUpTakesFitsEventsWithTheLongestNames(t *testing.T) {
	t.Parallel()
	for _, packet := range []int64{1 << 20, 4 << 20} {
		group := groupBytes(packet)
		// The largest bound start-up takes: it takes every smaller one.
		lo, hi := 1, int(packet)
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if checkEventBound(mid, packetLimit{bytes: packet}, group) == nil {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		if checkEventBound(lo, packetLimit{bytes: packet}, group) != nil {
			t.Fatalf("packet %d: start-up takes no event bound at all", packet)
		}
		longest := strings.Repeat("x", eventstore.MaxNameLength)
		// Every byte escaped: a JSON string of backslashes.
		data := []byte(`"` + strings.Repeat(`\`, lo-2) + `"`)
		req := eventstore.AppendRequest{StreamType: longest, Events: []eventstore.NewEvent{{Type: longest, Data: data}}}
		if need := sqlstore.AppendBytes(req) + sqlstore.GroupOverheadBytes; need > group {
			t.Errorf("packet %d: start-up took TRIBUTARY_MAX_EVENT_BYTES=%d, but an event of that size with %d-character names takes %d bytes, past the %d a group may: it would be refused as too large; expected start-up to refuse that bound",
				packet, lo, eventstore.MaxNameLength, need, group)
		}
	}
}

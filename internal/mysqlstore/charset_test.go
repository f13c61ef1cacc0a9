package mysqlstore_test

import (
	"bytes"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/eventstore"
)

// TestDataIsStoredByteForByteWhateverTheDSNsCharset: the writer's sessions
// send values interpolated into the SQL text, escaped with backslashes. In a
// multi-byte character set such as SJIS, GBK or Big5 (a DSN's charset, or a
// character_set_client), a byte before an escaping backslash can make one
// character of the two, and the quote after it then ends the string: data
// that a client sends would be run as SQL. Every session must read the SQL
// text as UTF-8, whatever the DSN says.
func TestDataIsStoredByteForByteWhateverTheDSNsCharset(t *testing.T) {
	t.Parallel()
	for _, param := range []string{"charset=sjis", "charset=gbk", "character_set_client=sjis", "CHARACTER_SET_CLIENT=big5"} {
		t.Run(param, func(t *testing.T) {
			t.Parallel()
			ctx, _, s, _ := openWithParam(t, param)
			x := uuid.New()
			// Á is C3 81 in UTF-8; 81 is a lead byte in SJIS, and 81 5C one
			// character: the backslash before the quote is swallowed.
			data := []byte(`"Á', NULL, SYSDATE(6), 1); SELECT 1; -- "`)
			for v := range int64(2) { // the first reads first, the second goes in one round trip
				res, err := s.Append(ctx, eventstore.AppendRequest{StreamID: x, StreamType: "thing", Expected: eventstore.Exactly(v),
					Events: []eventstore.NewEvent{{Type: "Happened", Data: data}}})
				if err != nil {
					t.Fatalf("DSN %s: append of data %s at version %d: %v", param, data, v, err)
				}
				e, err := s.Event(ctx, x, res.Version)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(e.Data, data) {
					t.Fatalf("DSN %s: stored data %q; want %q", param, e.Data, data)
				}
			}
		})
	}
}

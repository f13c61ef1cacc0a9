package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestATrailingCommaIsCalledOne: a comma before the ] or } that closes an
// array or object, the commonest mistake in JSON written by hand, got the
// decoder's words for something else: `invalid character ']' after object
// value (expecting ',' or '}')` inside an array, or `invalid character ','
// at start of value`, pointing at the comma. The detail says it is a
// trailing comma, and where; other mistakes keep their words.
func TestATrailingCommaIsCalledOne(t *testing.T) {
	t.Parallel()
	s := newServer(t, newContract(t), teststore.SQLite.Open(t))
	for _, tc := range []struct{ body, where string }{
		{`{"stream_type":"order","events":[{"type":"A","data":[1,]}]}`, "events[0].data"},
		{`{"stream_type":"order","events":[{"type":"A","data":[1, ]}]}`, "events[0].data"},
		{`{"stream_type":"order","events":[{"type":"A","data":{"a":1,}}]}`, "events[0].data"},
		{`{"stream_type":"order","events":[{"type":"A","data":1},]}`, "events"},
		{`{"stream_type":"order","events":[{"type":"A","data":1,}]}`, "events[0]"},
		{`{"stream_type":"order","events":[{"type":"A","data":1}],}`, "the body"},
	} {
		r := s.do("POST", "/streams/"+uuid.NewString()+"/events", tc.body)
		expectStatus(t, tc.body, r, 400)
		if got := r.json(t)["detail"].(string); !strings.Contains(got, "trailing comma") || !strings.Contains(got, "("+tc.where+")") {
			t.Errorf("%s: detail %q; want it to say a trailing comma, in (%s)", tc.body, got, tc.where)
		}
	}
	for _, body := range []string{
		`{"stream_type":"order","events":[{"type":"A","data":[1,,2]}]}`,
		`{"stream_type":"order","events":[{"type":"A","data":[1 2]}]}`,
		// A missing value or a lone comma: no member or element before it.
		`{"stream_type":,}`,
		`{"stream_type": , }`,
		`{"stream_type":"order","events":[,]}`,
		`{"stream_type":"order","events":[ , ]}`,
		`{"stream_type":"order","events":[{"type":"A","data":[1,,]}]}`,
		`{,}`,
		`{"stream_type",}`,
	} {
		r := s.do("POST", "/streams/"+uuid.NewString()+"/events", body)
		expectStatus(t, body, r, 400)
		if got := r.json(t)["detail"].(string); strings.Contains(got, "trailing comma") {
			t.Errorf("%s: detail %q; want it not to speak of a trailing comma", body, got)
		}
	}
}

package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestALoneSurrogateIsRefusedInEveryStringOfAnAppendSayingWhat: a lone
// UTF-16 surrogate escaped in a JSON string ("\ud800") is no character, and
// the body is refused (RFC 7493, I-JSON: strings are Unicode), whichever
// string holds it: data, a key in data, metadata, type, stream_type or id.
// The 400 said "invalid surrogate pair `\ud800"}]}` in string", which told a
// user of "any JSON value" neither what was wrong nor how to write it. It
// names the place and says what a surrogate escape must be; a pair, as a
// character past U+FFFF is written, is taken. Nothing is written.
func TestALoneSurrogateIsRefusedInEveryStringOfAnAppendSayingWhat(t *testing.T) {
	t.Parallel()
	s := newServer(t, newContract(t), teststore.SQLite.Open(t))
	for _, c := range []struct{ body, where string }{
		{`{"stream_type":"o","events":[{"type":"X","data":"\ud800"}]}`, "events[0].data"},
		{`{"stream_type":"o","events":[{"type":"X","data":{"a":"\udc00x"}}]}`, "events[0].data.a"},
		{`{"stream_type":"o","events":[{"type":"X","data":{"\uD800":1}}]}`, "events[0].data"},
		{`{"stream_type":"o","events":[{"type":"X","data":1,"metadata":{"k":"\ud800\ud800"}}]}`, "events[0].metadata.k"},
		{`{"stream_type":"o","events":[{"type":"X\ud800","data":1}]}`, "events[0].type"},
		{`{"stream_type":"o\ud800","events":[{"type":"X","data":1}]}`, "stream_type"},
		{`{"stream_type":"o","events":[{"id":"\ud800","type":"X","data":1}]}`, "events[0].id"},
	} {
		id := uuid.NewString()
		r := s.do("POST", "/streams/"+id+"/events", c.body)
		detail, _ := r.json(t)["detail"].(string)
		if r.status != 400 || !strings.Contains(detail, "("+c.where+")") || !strings.Contains(detail, "lone UTF-16 surrogate") ||
			!strings.Contains(detail, `\ud83d\ude00`) || !strings.Contains(detail, "nothing was written") {
			t.Errorf("%s: %d %q; want 400 naming %s, saying a lone UTF-16 surrogate is no character, how a pair is written, and that nothing was written",
				c.body, r.status, detail, c.where)
		}
		if r := s.do("GET", "/streams/"+id, ""); r.status != 404 {
			t.Errorf("%s: the stream is there after its refusal (%d)", c.body, r.status)
		}
	}
	ok := `{"stream_type":"o","events":[{"type":"X","data":"\ud83d\ude00","metadata":{"\uD83D\uDE00":"\u00e9"}}]}`
	expectStatus(t, "an append whose strings escape a pair", s.do("POST", "/streams/"+uuid.NewString()+"/events", ok), 201)
}

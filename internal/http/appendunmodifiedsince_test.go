package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestIfUnmodifiedSinceOnAnAppendIs400: an append with If-Unmodified-Since
// (S3-style optimistic concurrency by date) was written whatever the stream
// had become since that date, the condition dropped without a word, while
// every other misuse of a condition on an append is a 400 (the attacker's
// F3). It is a 400 now, naming If-Match: "N", and nothing is written (one
// that is no date too: TestAnIfUnmodifiedSinceThatIsNoDateIsRefusedOnAnAppendToo). With
// If-Match beside it, If-Match decides, as RFC 9110 §13.1.4 asks;
// If-Modified-Since and If-Range, which RFC 9110 has a server ignore on a
// POST, are still ignored. On both stores.
func TestIfUnmodifiedSinceOnAnAppendIs400(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		id := uuid.NewString()
		path := "/streams/" + id + "/events"
		expectStatus(t, "the first append", s.do("POST", path, `{"stream_type":"order","events":[{"type":"A","data":1},{"type":"B","data":2}]}`), 201)
		const date = "Wed, 21 Oct 2015 07:28:00 GMT"
		for _, tc := range []struct {
			name   string
			header []string
		}{
			{"If-Unmodified-Since", []string{"If-Unmodified-Since", date}},
			{"If-Unmodified-Since with If-None-Match: *", []string{"If-Unmodified-Since", date, "If-None-Match", "*"}},
		} {
			r := s.do("POST", path, `{"events":[{"type":"C","data":3}]}`, tc.header...)
			if r.status != 400 {
				t.Errorf("an append with %s: %d %s; want 400", tc.name, r.status, r.body)
				continue
			}
			if detail, _ := r.json(t)["detail"].(string); !strings.Contains(detail, "If-Unmodified-Since") || !strings.Contains(detail, `If-Match: "N"`) {
				t.Errorf("an append with %s: detail %q; want it to name If-Unmodified-Since and If-Match: \"N\"", tc.name, detail)
			}
		}
		if v := s.do("GET", "/streams/"+id, "").json(t)["version"]; v != float64(2) {
			t.Fatalf("after the refused appends the stream is at version %v; want 2 (nothing written)", v)
		}
		expectStatus(t, `If-Match: "2" with If-Unmodified-Since (If-Match decides)`,
			s.do("POST", path, `{"events":[{"type":"C","data":3}]}`, "If-Match", `"2"`, "If-Unmodified-Since", date), 201)
		expectStatus(t, "If-Modified-Since (ignored on a POST)",
			s.do("POST", path, `{"events":[{"type":"D","data":4}]}`, "If-Modified-Since", date), 201)
		expectStatus(t, "If-Range (ignored without Range)",
			s.do("POST", path, `{"events":[{"type":"E","data":5}]}`, "If-Range", date), 201)
	})
}

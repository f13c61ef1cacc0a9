package http_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnIfUnmodifiedSinceThatIsNoDateIsRefusedOnAnAppendToo: an append
// whose If-Unmodified-Since was no HTTP-date (an ISO 8601 date, "yesterday",
// a list of dates, the header on two lines, an empty one) was written
// unconditionally, whatever the stream had become, where one with a valid
// date is refused: the client that guarded its write with a date it wrote
// wrong lost the guard without a word. RFC 9110 §13.1.4's "ignore" of a
// value that is no date stands beside its "ignore" where the resource has
// no modification date, as a stream has none: this server refuses the
// header instead, for a client's safety, whatever its value. It is the 400
// naming If-Match: "N" again, and nothing is written; with If-Match beside
// it, If-Match decides. On both stores.
func TestAnIfUnmodifiedSinceThatIsNoDateIsRefusedOnAnAppendToo(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		id := uuid.NewString()
		path := "/streams/" + id + "/events"
		expectStatus(t, "the first append", s.do("POST", path, `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		// Each sent as its lines: do would drop an empty one, and sends one
		// line only.
		for _, lines := range [][]string{{"yesterday"}, {""}, {"0"}, {"2015-10-21T07:28:00Z"},
			{"Wed, 21 Oct 2015 07:28:00 GMT, Thu, 22 Oct 2015 07:28:00 GMT"},
			{"Wed, 21 Oct 2015 07:28:00 GMT", "Thu, 22 Oct 2015 07:28:00 GMT"}} {
			req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(`{"events":[{"type":"B","data":2}]}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header["If-Unmodified-Since"] = lines
			resp, err := s.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `If-Match: \"N\"`) {
				t.Errorf("an append with If-Unmodified-Since %q (no HTTP-date): %d %s; want the 400 naming If-Match: \"N\", nothing written", lines, resp.StatusCode, body)
			}
		}
		if v := s.do("GET", "/streams/"+id, "").json(t)["version"]; v != float64(1) {
			t.Fatalf("the stream is at version %v; want 1 (no append guarded by a date written)", v)
		}
		expectStatus(t, `If-Match: "1" with an If-Unmodified-Since that is no date (If-Match decides)`,
			s.do("POST", path, `{"events":[{"type":"C","data":3}]}`, "If-Match", `"1"`, "If-Unmodified-Since", "yesterday"), http.StatusCreated)
	})
}

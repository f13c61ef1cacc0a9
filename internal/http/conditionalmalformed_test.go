package http_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestMalformedConditionsAreAnsweredAsRFC9110Asks pins what a malformed
// If-None-Match, If-Match or If-Modified-Since does on each route that
// honours one. On a read, a member that is no entity tag (unquoted, a
// quote missing, W/ in the wrong case or apart from its tag, W/*) matches
// nothing (RFC 9110 §8.8.3): If-None-Match then asks for the whole answer
// (200, never a 304 the client's cache would wrongly reuse), If-Match
// fails (412); a weak tag matches If-None-Match (weak comparison) and
// never If-Match (strong). If-Modified-Since, valid or not, is ignored
// (§13.1.3: the reads send no Last-Modified; the entity tag decides). On
// an append, whose condition is its expected version, anything but one
// strong tag holding a version, or *, is a 400 (API.md), and nothing is
// written. On both stores.
func TestMalformedConditionsAreAnsweredAsRFC9110Asks(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		_, _, srv := liveServerOf(t, k, esthttp.Options{OpenAPI: api.OpenAPI}, nil)
		s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}}
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		for _, path := range []string{"/streams/" + id, "/streams/" + id + "/events"} {
			for _, c := range []struct {
				header, value string
				want          int
			}{
				{"If-None-Match", `"1"`, 304},
				{"If-None-Match", `W/"1"`, 304},
				{"If-None-Match", `1`, 200},
				{"If-None-Match", `"1`, 200},
				{"If-None-Match", `w/"1"`, 200},
				{"If-None-Match", `W/ "1"`, 200},
				{"If-None-Match", `""`, 200},
				{"If-None-Match", `W/*`, 200},
				{"If-None-Match", `"2" "1"`, 200},
				{"If-None-Match", ``, 200},
				{"If-Match", `W/"1"`, 412},
				{"If-Match", `1`, 412},
				{"If-Match", `"1`, 412},
				{"If-Match", `""`, 412},
				{"If-Match", `W/*`, 412},
				{"If-Modified-Since", `nonsense`, 200},
				{"If-Modified-Since", `Sun, 06 Nov 2094 08:49:37 GMT`, 200},
				{"If-Modified-Since", `Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 2094 08:49:37 GMT`, 200},
			} {
				for _, method := range []string{"GET", "HEAD"} {
					if r := s.do(method, path, "", c.header, c.value); r.status != c.want {
						t.Errorf("%s %s %s: %q: status %d, want %d\nbody: %s", method, path, c.header, c.value, r.status, c.want, r.body)
					}
				}
			}
		}
		for _, c := range []struct{ header, value string }{
			{"If-Match", `W/"1"`},
			{"If-Match", `1`},
			{"If-Match", `"1", "2"`},
			{"If-Match", `*, "1"`},
			{"If-Match", `W/*`},
			{"If-Match", `""`},
			{"If-None-Match", `"1"`},
			{"If-None-Match", `W/*`},
			{"If-None-Match", `*, *`},
			{"If-Unmodified-Since", `nonsense`},
		} {
			if r := s.do("POST", "/streams/"+id+"/events", `{"events":[{"type":"A","data":2}]}`, c.header, c.value); r.status != 400 {
				t.Errorf("append %s: %q: status %d, want 400\nbody: %s", c.header, c.value, r.status, r.body)
			}
		}
		expectStatus(t, "the stream after the refused appends, at version 1", s.do("GET", "/streams/"+id, "", "If-None-Match", `"1"`), 304)
	})
}

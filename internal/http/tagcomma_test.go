package http_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnEntityTagHoldingACommaIsOneTagNotAList: an entity tag may hold a
// comma and a * between its quotes ("a,*,b" is one opaque tag, RFC 9110
// §8.8.3). The reads split If-Match and If-None-Match at every comma, so
// "a,*,b" was read as the list "a, *, b": If-Match held on a stream's read
// (200 where the stream's tag is "1": 412), If-None-Match was a 304 on
// every read, and the page's and the probes' alike. A comma between quotes
// is part of its tag now; a list of tags is still a list. On both stores.
func TestAnEntityTagHoldingACommaIsOneTagNotAList(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		_, _, srv := liveServerOf(t, k, esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")}, nil)
		s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}}
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		paths := []string{"/", "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/events", "/streams",
			"/streams/" + id, "/streams/" + id + "/events", "/streams/" + id + "/events/1"}
		for _, path := range paths {
			for _, c := range []struct {
				header, value string
				want          int
			}{
				{"If-Match", `"a,*,b"`, 412},
				{"If-Match", `"a,*"`, 412},
				{"If-None-Match", `"a,*,b"`, 200},
				{"If-None-Match", `"*,"`, 200},
				// A list is still a list, and * in one is no *: RFC 9110
				// takes * only as the whole value; in a list it matches
				// nothing (TestAStarInAListOfTagsIsNoStar).
				{"If-Match", `"a,b", *`, 412},
				{"If-None-Match", `"a,b", *`, 200},
				{"If-None-Match", `"a,b",*`, 200},
			} {
				for _, method := range []string{"GET", "HEAD"} {
					if r := s.do(method, path, "", c.header, c.value); r.status != c.want {
						t.Errorf("%s %s %s: %s: status %d, want %d\nbody: %s", method, path, c.header, c.value, r.status, c.want, r.body)
					}
				}
			}
		}
		// Where there is a tag, it still matches within a list.
		for _, path := range []string{"/streams/" + id, "/streams/" + id + "/events"} {
			if r := s.do("GET", path, "", "If-Match", `"a,1", "1"`); r.status != 200 {
				t.Errorf(`GET %s If-Match: "a,1", "1": status %d, want 200`, path, r.status)
			}
			if r := s.do("GET", path, "", "If-None-Match", `"a,1", "1"`); r.status != 304 {
				t.Errorf(`GET %s If-None-Match: "a,1", "1": status %d, want 304`, path, r.status)
			}
			if r := s.do("GET", path, "", "If-None-Match", `"a,1"`); r.status != 200 {
				t.Errorf(`GET %s If-None-Match: "a,1": status %d, want 200`, path, r.status)
			}
		}
	})
}

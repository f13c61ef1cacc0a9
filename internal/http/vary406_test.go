package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestReadsThatAnswer406ByAcceptVaryOnAccept: a stream's description, one
// event and a page of /streams are answered 406 to an Accept that takes
// only text/event-stream, and 200 JSON to any other, but said Vary: Accept
// on neither, as a page of events (its sibling, which serves a page or a
// subscription by Accept) does: a cache may hand the one to a client that
// asked for the other (RFC 9110 12.5.5). Every answer to a GET or HEAD of
// them says it now. On both stores.
func TestReadsThatAnswer406ByAcceptVaryOnAccept(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		for _, path := range []string{"/streams/" + id, "/streams/" + id + "/events/1", "/streams"} {
			for _, method := range []string{"GET", "HEAD"} {
				for _, accept := range []string{"", "text/event-stream"} {
					what := method + " " + path + " Accept: " + accept
					r := s.do(method, path, "", "Accept", accept)
					if want := map[string]int{"": 200, "text/event-stream": 406}[accept]; r.status != want {
						t.Errorf("%s: status %d, want %d", what, r.status, want)
					}
					if !slicesHasFold(r.header.Values("Vary"), "Accept") {
						t.Errorf("%s: Vary %q; want it to name Accept", what, r.header.Values("Vary"))
					}
				}
			}
		}
	})
}

// slicesHasFold reports whether a list header's values name name.
func slicesHasFold(vals []string, name string) bool {
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestDataNestsAsDeepAsREADMESaysAndNoDeeper: README did not say how deep
// an event's data may nest, and the server took 9,997 levels (its
// decoder's 10,000 for the body, less the three the body's own object,
// events array and event take), far past what many readers' parsers take
// (Python's json about 1,000, Ruby's 100, Rust's serde_json 128): one
// writer could store an event that those readers of the log fail on for
// ever (the attacker's F2). README says the bound now; this holds it to
// what the server does, data and metadata alike. On both stores.
func TestDataNestsAsDeepAsREADMESaysAndNoDeeper(t *testing.T) {
	t.Parallel()
	const deepest = 9997 // README's "Input is strict"
	arrays := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	objects := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		for _, tc := range []struct {
			name, event string
		}{
			{"data of arrays", `{"type":"A","data":` + arrays(deepest) + `}`},
			{"data of objects", `{"type":"A","data":` + objects(deepest) + `}`},
			{"metadata", `{"type":"A","data":1,"metadata":` + objects(deepest) + `}`},
		} {
			expectStatus(t, tc.name+" nested 9,997 levels", s.do("POST", "/streams/"+uuid.NewString()+"/events",
				`{"stream_type":"deep","events":[`+tc.event+`]}`), 201)
		}
		for _, tc := range []struct {
			name, event string
		}{
			{"data of arrays", `{"type":"A","data":` + arrays(deepest+1) + `}`},
			{"data of objects", `{"type":"A","data":` + objects(deepest+1) + `}`},
			{"metadata", `{"type":"A","data":1,"metadata":` + objects(deepest+1) + `}`},
		} {
			id := uuid.NewString()
			r := s.do("POST", "/streams/"+id+"/events", `{"stream_type":"deep","events":[`+tc.event+`]}`)
			expectStatus(t, tc.name+" nested 9,998 levels", r, 400)
			expectStatus(t, "the stream, after "+tc.name+" nested 9,998 levels", s.do("GET", "/streams/"+id, ""), 404)
		}
	})
}

package http_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPathWithATrailingSlashIsNotFoundOnEveryRoute: /streams/ and
// /streams/{id}/ answered 200 (chi's nested routes serve their "/" for both
// forms) where every other route's slash form was a 404, and openapi.yaml
// lists neither; OPTIONS took the slash form of every route for the route.
// Each is now a 404 problem, whatever the method.
func TestAPathWithATrailingSlashIsNotFoundOnEveryRoute(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	id := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`), 201)
	for _, path := range []string{
		"/healthz/", "/readyz/", "/openapi.yaml/", "/events/",
		"/streams/", "/streams/" + id + "/", "/streams/" + id + "/events/", "/streams/" + id + "/events/1/",
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions} {
			r := s.do(method, path, "")
			if r.status != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404 as for every path a route does not serve\n%s", method, path, r.status, r.body)
				continue
			}
			if method == http.MethodHead {
				continue // no body
			}
			if p := r.json(t); p["type"] != esthttp.ProblemBase+"not-found" {
				t.Errorf("%s %s: type %v, want %snot-found", method, path, p["type"], esthttp.ProblemBase)
			}
		}
	}
	// The forms without the slash still serve.
	for _, path := range []string{"/streams", "/streams/" + id, "/streams/" + id + "/events", "/streams/" + id + "/events/1"} {
		expectStatus(t, "GET "+path, s.do("GET", path, ""), 200)
		if r := s.do("OPTIONS", path, ""); r.status != http.StatusNoContent || r.header.Get("Allow") == "" {
			t.Errorf("OPTIONS %s: %d Allow=%q, want 204 with Allow", path, r.status, r.header.Get("Allow"))
		}
	}
}

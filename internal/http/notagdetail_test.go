package http_test

import (
	"maps"
	"regexp"
	"slices"
	"testing"

	"github.com/tributary-dev/tributary/api"
)

// TestAReadWithoutAnEntityTagSays412NamingEveryReadThatHasOne: the 412 of
// an If-Match sent to a read without an entity tag (one event, the log, a
// list of streams, a subscription, the probes, the metrics, the contract)
// said "only a stream and its pages have one", though the page at / has
// one too (its ETag, which it honours If-Match by): the detail was not
// true. Every read that answers an ETag, found by asking each, is named in
// the detail by its GET, and no other; and openapi.yaml's examples of it
// say the same.
func TestAReadWithoutAnEntityTagSays412NamingEveryReadThatHasOne(t *testing.T) {
	t.Parallel()
	s, id := contractCheckedServerWithAStream(t)

	// The reads that answer an entity tag, by their path's shape.
	tagged := map[string]bool{}
	var untagged []string
	for _, path := range []string{"/", "/healthz", "/readyz", "/metrics", "/openapi.yaml", "/events", "/streams",
		"/streams/" + id, "/streams/" + id + "/events", "/streams/" + id + "/events/1"} {
		r := s.do("GET", path, "")
		expectStatus(t, "GET "+path, r, 200)
		if r.header.Get("ETag") != "" {
			tagged[shapeOf(path)] = true
		} else {
			untagged = append(untagged, path)
		}
	}
	if len(tagged) == 0 || len(untagged) == 0 {
		t.Fatalf("reads with an ETag %v, without %v; the test expects some of each", tagged, untagged)
	}
	want := slices.Sorted(maps.Keys(tagged))
	getOf := regexp.MustCompile(`GET (/[^\s,;)]*)`)
	named := func(detail string) []string {
		seen := map[string]bool{}
		for _, m := range getOf.FindAllStringSubmatch(detail, -1) {
			seen[m[1]] = true
		}
		return slices.Sorted(maps.Keys(seen))
	}

	type read struct{ path, accept string }
	reads := []read{{"/events", "text/event-stream"}, {"/streams/" + id + "/events", "text/event-stream"}}
	for _, path := range untagged {
		reads = append(reads, read{path, ""})
	}
	for _, c := range reads {
		what := "GET " + c.path + " Accept: " + c.accept + ` If-Match: "x"`
		r := s.do("GET", c.path, "", "Accept", c.accept, "If-Match", `"x"`)
		if r.status != 412 {
			t.Errorf("%s: status %d, want 412\nbody: %s", what, r.status, r.body)
			continue
		}
		detail, _ := r.json(t)["detail"].(string)
		if got := named(detail); !slices.Equal(got, want) {
			t.Errorf("%s: detail %q names the reads %v as having an entity tag; those that answer one are %v", what, detail, got, want)
		}
	}

	examples := regexp.MustCompile(`detail: '(If-Match [^']*has no entity tag[^']*)'`).FindAllStringSubmatch(string(api.OpenAPI), -1)
	if len(examples) == 0 {
		t.Fatal("openapi.yaml: found no example of the 412 of a read without an entity tag")
	}
	for _, e := range examples {
		if got := named(e[1]); !slices.Equal(got, want) {
			t.Errorf("openapi.yaml's example %q names the reads %v as having an entity tag; those that answer one are %v", e[1], got, want)
		}
	}
}

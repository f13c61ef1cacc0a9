package http_test

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestOpenAPIHeaderExamplesAreWhatTheServerSends: openapi.yaml's Link
// header showed a next page of a stream with &direction=forward, which the
// server never sends (only a backward page's link carries direction), and
// its Allow example was "GET, POST", against its own description (OPTIONS
// last) and every Allow the server sends. Each link in the Link header's
// description and example now has the parameters the server's link of the
// same path has, and the Allow example is one the server answers.
func TestOpenAPIHeaderExamplesAreWhatTheServerSends(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	s := liveTestServer(t, teststore.SQLite, false)
	id := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1},{"type":"B","data":2}]}`), 201)
	expectStatus(t, "append", s.do("POST", "/streams/"+uuid.NewString()+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)

	// The parameters of the server's next-page link, by its path's shape.
	sent := map[string][]string{}
	for _, path := range []string{"/streams/" + id + "/events?limit=1", "/events?limit=1", "/streams?limit=1"} {
		r := s.do("GET", path, "")
		expectStatus(t, "GET "+path, r, 200)
		link := r.header.Get("Link")
		path, query := linkTarget(t, "GET "+path+"'s Link", link)
		sent[shapeOf(path)] = query
	}
	link := doc.Components.Headers["Link"].Value
	example, _ := link.Schema.Value.Example.(string)
	checked := 0
	for _, text := range []string{link.Description, example} {
		for _, l := range regexp.MustCompile(`<[^>]*>; rel="next"`).FindAllString(text, -1) {
			path, query := linkTarget(t, "openapi.yaml's Link "+l, l)
			want, ok := sent[shapeOf(path)]
			if !ok {
				t.Errorf("openapi.yaml's Link %s: no page of %s has a link", l, path)
				continue
			}
			checked++
			if !slices.Equal(query, want) {
				t.Errorf("openapi.yaml's Link %s has the parameters %v; the server's link of a page of %s has %v", l, query, path, want)
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no link in openapi.yaml's Link header")
	}

	// Every Allow the server answers, by OPTIONS of each path.
	answered := map[string]bool{}
	for _, path := range []string{"/", "/healthz", "/readyz", "/openapi.yaml", "/events", "/streams", "/streams/" + id, "/streams/" + id + "/events", "/streams/" + id + "/events/1"} {
		r := s.do("OPTIONS", path, "")
		expectStatus(t, "OPTIONS "+path, r, 204)
		answered[r.header.Get("Allow")] = true
	}
	allow, _ := doc.Components.Headers["Allow"].Value.Schema.Value.Example.(string)
	if !answered[allow] {
		t.Errorf("openapi.yaml's Allow example %q is no Allow the server answers (it answers %v)", allow, answered)
	}
	for _, e := range regexp.MustCompile("e\\.g\\. `([^`]*)`").FindAllStringSubmatch(doc.Components.Headers["Allow"].Value.Description, -1) {
		if !answered[e[1]] {
			t.Errorf("openapi.yaml's Allow description's example %q is no Allow the server answers (it answers %v)", e[1], answered)
		}
	}
}

// linkTarget returns the path of a Link header's <target> and the names of
// its query parameters, sorted.
func linkTarget(t *testing.T, what, link string) (string, []string) {
	t.Helper()
	i, j := strings.Index(link, "<"), strings.Index(link, ">")
	if i < 0 || j < i {
		t.Fatalf("%s: %q holds no <target>", what, link)
	}
	u, err := url.Parse(link[i+1 : j])
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var names []string
	for name := range u.Query() {
		names = append(names, name)
	}
	slices.Sort(names)
	return u.Path, names
}

// shapeOf turns a stream id in path into {id}.
func shapeOf(path string) string {
	return regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`).ReplaceAllString(path, "{id}")
}

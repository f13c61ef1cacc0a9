package http

import (
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tributary-dev/tributary/api"
)

// TestOpenAPIProblemExamplesCarryTheTitlesSent: every problem example in
// api/openapi.yaml gives its type the title the error table sends with it,
// so that a client written from the document matches what it will read.
func TestOpenAPIProblemExamplesCarryTheTitlesSent(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	titles := map[string]string{}
	for _, k := range append(problemKinds, internalKind) {
		titles[ProblemBase+k.slug] = k.title
	}
	checked := 0
	for name, ref := range doc.Components.Responses {
		for _, media := range ref.Value.Content {
			ex, ok := media.Example.(map[string]any)
			if !ok {
				continue
			}
			typ, _ := ex["type"].(string)
			title, _ := ex["title"].(string)
			if !strings.HasPrefix(typ, ProblemBase) {
				continue
			}
			checked++
			if want, known := titles[typ]; !known {
				t.Errorf("response %s: example type %s is not one the server sends", name, typ)
			} else if title != want {
				t.Errorf("response %s: example title %q, but the server sends %q with %s", name, title, want, typ)
			}
		}
	}
	if checked == 0 {
		t.Fatal("found no problem example in openapi.yaml's responses")
	}
}

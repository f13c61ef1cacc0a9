package http_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestEveryURLThatCannotSubscribeIsDocumentedAs406: the URLs that answer
// an event stream asked of them 406 are listed in three places, openapi.yaml's
// conventions and each operation's responses, README's content negotiation
// paragraph and its table of problems; merges left those lists half old
// (only the JSON URLs) and half new. Every GET of openapi.yaml whose 200 is
// no event stream is asked Accept: text/event-stream of the server: it must
// answer 406, list 406 among its responses, and be named in each list.
// The store plays no part in the answer (it comes before the store is
// asked): the embedded one serves.
func TestEveryURLThatCannotSubscribeIsDocumentedAs406(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Each list up to the 406 it names: the text after it names some of
	// the URLs again, for what they serve.
	row := section(t, string(readme), "\n| 406 |", "whose", "README's 406 row")
	paragraph := section(t, string(readme), "\nA URL that cannot be subscribed to", "406", "README's paragraph on URLs that cannot be subscribed to")
	convention := section(t, doc.Info.Description, "- **Subscriptions**", "406", "openapi.yaml's Subscriptions convention")

	s := serveWith(t, teststore.SQLite.Open(t), esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")})
	id := uuid.NewString()
	expectStatus(t, "the append", s.do(http.MethodPost, "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"placed","data":{}}]}`), http.StatusCreated)

	refused := 0
	for path, item := range doc.Paths.Map() {
		op := item.Get
		if op == nil {
			continue
		}
		if ok := op.Responses.Value("200"); ok != nil && ok.Value.Content.Get("text/event-stream") != nil {
			continue // it subscribes
		}
		refused++
		url := strings.NewReplacer("{stream_id}", id, "{version}", "1").Replace(path)
		if r := s.do(http.MethodGet, url, "", "Accept", "text/event-stream"); r.status != http.StatusNotAcceptable {
			t.Errorf("GET %s with Accept: text/event-stream: %d; want 406, as the documents say of every URL that cannot subscribe", path, r.status)
		}
		if op.Responses.Value("406") == nil {
			t.Errorf("openapi.yaml: GET %s lists no 406 among its responses; it answers one to an event stream asked of it", path)
		}
		named := "`" + path + "`"
		if !strings.Contains(convention, named) {
			t.Errorf("openapi.yaml's Subscriptions convention does not name %s among the URLs that answer 406:\n%s", named, convention)
		}
		named = "`" + strings.ReplaceAll(path, "{stream_id}", "{id}") + "`" // README's spelling
		if !strings.Contains(row, named) {
			t.Errorf("README's 406 row does not name %s:\n%s", named, row)
		}
		if !strings.Contains(paragraph, named) {
			t.Errorf("README's paragraph on URLs that cannot be subscribed to does not name %s:\n%s", named, paragraph)
		}
	}
	if refused < 8 { // /, the probes, the metrics, the contract, the streams, a stream, an event
		t.Errorf("openapi.yaml: %d GETs that cannot subscribe; want at least 8 (was the document read?)", refused)
	}
}

// section is the text of doc from start up to the next end after it.
func section(t *testing.T, doc, start, end, what string) string {
	t.Helper()
	i := strings.Index(doc, start)
	if i < 0 {
		t.Fatalf("%s not found: no %q", what, start)
	}
	rest := doc[i+len(start):]
	if j := strings.Index(rest, end); j >= 0 {
		rest = rest[:j]
	}
	return start + rest
}

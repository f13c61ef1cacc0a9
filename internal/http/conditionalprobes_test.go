package http_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestConditionalHeadersOnTheProbesMetricsContractAndPageAnswerAsTheReadsDo:
// the page at / honoured If-None-Match but answered 200 to an If-Match
// naming another tag than its ETag, and /healthz, /readyz, /metrics and
// /openapi.yaml answered 200 to If-None-Match: * and to If-Match: "x",
// where every API read answers 304 and 412 (RFC 9110 §13.1.1, §13.1.2).
// Each now answers as the reads without an ETag do (the page as a stream,
// by its ETag), and only where its answer would otherwise be a 2xx (RFC
// 9110 §13.2.1): a probe that sends neither header is answered as ever,
// and /readyz's 503 stays a 503 whatever it sent. On both stores (/readyz
// asks the store), checked against openapi.yaml.
func TestConditionalHeadersOnTheProbesMetricsContractAndPageAnswerAsTheReadsDo(t *testing.T) {
	t.Parallel()
	// openapi3filter passes any 304 unchecked: the document is read here.
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	tagless := []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml"}
	for _, path := range append([]string{"/"}, tagless...) {
		op := doc.Paths.Value(path).Get
		for _, status := range []int{304, 412} {
			if op.Responses.Status(status) == nil {
				t.Errorf("openapi.yaml: GET %s does not list the %d it answers", path, status)
			}
		}
		for _, name := range []string{"If-Match", "If-None-Match"} {
			if !slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value.In == "header" && p.Value.Name == name }) {
				t.Errorf("openapi.yaml: GET %s does not list %s among its parameters", path, name)
			}
		}
	}
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		_, h, srv := liveServerOf(t, k, esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")}, nil)
		s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}}
		page := s.do("GET", "/", "")
		expectStatus(t, "GET /", page, 200)
		pageTag := page.header.Get("ETag")
		if !strings.HasPrefix(pageTag, `"page-`) {
			t.Fatalf("GET /: ETag %q, want the page's", pageTag)
		}
		type condition struct {
			header []string
			want   int
		}
		conditions := []condition{
			{nil, 200},
			{[]string{"If-Match", `"x"`}, 412},
			{[]string{"If-Match", `"x", *`}, 412}, // * in a list is no * (TestAStarInAListOfTagsIsNoStar)
			{[]string{"If-Match", "*"}, 200},
			{[]string{"If-None-Match", "*"}, 304},
			{[]string{"If-None-Match", `"x"`}, 200},
			{[]string{"If-None-Match", `W/*`}, 200}, // * is never weak
			// If-Match is evaluated first (RFC 9110 §13.2.2).
			{[]string{"If-Match", `"x"`, "If-None-Match", "*"}, 412},
		}
		cases := map[string][]condition{}
		for _, path := range tagless {
			cases[path] = conditions
		}
		cases["/"] = []condition{
			{nil, 200},
			{[]string{"If-Match", `"x"`}, 412},
			{[]string{"If-Match", pageTag}, 200},
			{[]string{"If-Match", `"x", ` + pageTag}, 200},
			{[]string{"If-Match", "W/" + pageTag}, 412}, // the comparison is strong
			{[]string{"If-Match", "*"}, 200},
			{[]string{"If-None-Match", pageTag}, 304},
			{[]string{"If-None-Match", "*"}, 304},
			{[]string{"If-None-Match", `"x"`}, 200},
			{[]string{"If-Match", `"x"`, "If-None-Match", pageTag}, 412},
		}
		for path, conds := range cases {
			for _, c := range conds {
				for _, method := range []string{"GET", "HEAD"} {
					what := method + " " + path + " " + strings.Join(c.header, ": ")
					r := s.do(method, path, "", c.header...)
					if r.status != c.want {
						t.Errorf("%s: status %d, want %d\nbody: %s", what, r.status, c.want, r.body)
						continue
					}
					switch c.want {
					case 304:
						if len(r.body) != 0 || r.header.Get("Content-Type") != "" || r.header.Get("Content-Length") != "" {
							t.Errorf("%s: 304 with Content-Type %q, Content-Length %q and %d bytes of body; want none of them",
								what, r.header.Get("Content-Type"), r.header.Get("Content-Length"), len(r.body))
						}
						if got, want := r.header.Get("ETag"), map[bool]string{true: pageTag}[path == "/"]; got != want {
							t.Errorf("%s: 304 with ETag %q, want %q (only the page has one)", what, got, want)
						}
					case 412:
						if method == "GET" && !strings.Contains(string(r.body), "precondition-failed") {
							t.Errorf("%s: 412 body %s; want a precondition-failed problem", what, r.body)
						}
					}
				}
			}
		}
		// Past its 2xx, a probe's answer is what it was without the
		// headers: a readiness probe that asked for a 412 or a 304 of a
		// server shutting down is told it is not ready.
		h.Stopping()
		for _, header := range [][]string{{"If-Match", `"x"`}, {"If-None-Match", "*"}} {
			if r := s.do("GET", "/readyz", "", header...); r.status != 503 {
				t.Errorf("GET /readyz %s while stopping: status %d, want the 503 it answers without it\nbody: %s", strings.Join(header, ": "), r.status, r.body)
			}
		}
		if r := s.do("GET", "/healthz?x=1", "", "If-Match", `"x"`); r.status != 400 {
			t.Errorf(`GET /healthz?x=1 If-Match: "x": status %d, want the 400 it answers without it`, r.status)
		}
	})
}

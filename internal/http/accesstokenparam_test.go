package http_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnUnknownQueryParameterOnAGetNamesAccessTokenAmongWhatItTakes: the
// 400 of an unknown query parameter said "GET /streams/{id} takes no query
// parameters" and "GET /events takes only after, limit, stream_type, type",
// though every GET and HEAD takes access_token too (a browser EventSource's
// token): the detail was not true. On a GET it names access_token among
// what the URL takes; on an append, which refuses access_token, it does
// not.
func TestAnUnknownQueryParameterOnAGetNamesAccessTokenAmongWhatItTakes(t *testing.T) {
	t.Parallel()
	s, id := contractCheckedServerWithAStream(t)
	for _, c := range []struct {
		method, path, accept, want string
	}{
		{"GET", "/streams/" + id + "?x=1", "", "takes no query parameters but access_token"},
		{"GET", "/streams/" + id + "/events/1?x=1", "", "takes no query parameters but access_token"},
		{"GET", "/healthz?x=1", "", "takes no query parameters but access_token"},
		{"GET", "/readyz?x=1", "", "takes no query parameters but access_token"},
		{"GET", "/metrics?x=1", "", "takes no query parameters but access_token"},
		{"GET", "/openapi.yaml?x=1", "", "takes no query parameters but access_token"},
		{"GET", "/events?x=1", "", "takes only after, limit, stream_type, type, access_token"},
		{"GET", "/streams?x=1", "", "takes only stream_type, after, limit, access_token"},
		{"GET", "/streams/" + id + "/events?x=1", "", "takes only from, limit, direction, access_token"},
		{"GET", "/events?x=1", "text/event-stream", "takes only after, stream_type, type, access_token"},
		{"GET", "/streams/" + id + "/events?x=1", "text/event-stream", "takes only from, access_token"},
		{"HEAD", "/streams/" + id + "?x=1", "", ""}, // no body: its status only
	} {
		what := c.method + " " + c.path + " Accept: " + c.accept
		r := s.do(c.method, c.path, "", "Accept", c.accept)
		if r.status != 400 {
			t.Errorf("%s: status %d, want 400\nbody: %s", what, r.status, r.body)
			continue
		}
		if c.want == "" {
			continue
		}
		if detail, _ := r.json(t)["detail"].(string); !strings.Contains(detail, c.want) {
			t.Errorf("%s: detail %q; want it to say the URL %s", what, detail, c.want)
		}
	}
	// An append refuses access_token (tokenInQueryOfWrite): it takes none.
	r := s.do("POST", "/streams/"+id+"/events?x=1", `{"events":[{"type":"A","data":1}]}`)
	if detail, _ := r.json(t)["detail"].(string); r.status != 400 || !strings.Contains(detail, "takes no query parameters") || strings.Contains(detail, "access_token") {
		t.Errorf("POST /streams/%s/events?x=1: %d %q; want 400 saying it takes no query parameters, without access_token", id, r.status, detail)
	}
}

// contractCheckedServerWithAStream serves a SQLite store with its
// contract and metrics, behind a client whose every answer is checked
// against openapi.yaml, and appends one event to a new stream, whose id
// it returns.
func contractCheckedServerWithAStream(t *testing.T) (*testServer, string) {
	t.Helper()
	_, _, srv := liveServerOf(t, teststore.SQLite, esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")}, nil)
	s := &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}}
	id := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
	return s, id
}

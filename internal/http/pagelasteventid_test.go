package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestLastEventIDOnAPageIs400: Last-Event-ID, a subscription's starting
// point, sent on a page's read (no Accept: text/event-stream: a proxy or a
// fetch wrapper dropped it) was ignored without a word, and the page began
// at the start of the log or stream: a resuming client read everything
// again. The reverse mistake (a page's limit or direction=backward on a
// subscription) is a 400 "only for pages"; so is this one, saying the
// page's own parameter, unless the query gives the start it names. A
// subscription takes it as before.
func TestLastEventIDOnAPageIs400(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1},{"type":"B","data":2}]}`), 201)
		for _, c := range []struct{ path, param string }{
			{"/events?limit=2", "after="},
			{"/streams/" + id + "/events", "from="},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				r := s.do(method, c.path, "", "Last-Event-ID", "1")
				if r.status != 400 {
					t.Errorf("%s %s with Last-Event-ID and no Accept: text/event-stream: %d %s; want 400", method, c.path, r.status, r.body)
					continue
				}
				if method == "HEAD" {
					continue
				}
				if detail, _ := r.json(t)["detail"].(string); !strings.Contains(detail, "Last-Event-ID") || !strings.Contains(detail, c.param) {
					t.Errorf("GET %s with Last-Event-ID: detail %q; want it to say Last-Event-ID is for subscriptions, and a page starts at %s", c.path, detail, c.param)
				}
			}
			expectStatus(t, "GET "+c.path+" with an empty Last-Event-ID", s.do("GET", c.path, "", "Last-Event-ID", ""), 200)
		}
		// One that names the start the query gives is taken (the Go
		// client resumes with both: TestASubscriptionResumedThroughAProxyThatDropsAcceptOnceGoesOn);
		// one that names another, or a backward page, is not.
		for _, c := range []struct {
			path string
			want int
		}{
			{"/events?after=1", 200},
			{"/streams/" + id + "/events?from=2", 200},
			{"/events?after=0", 400},
			{"/streams/" + id + "/events?from=1", 400},
			{"/streams/" + id + "/events?from=2&direction=backward", 400},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				expectStatus(t, method+" "+c.path+" with Last-Event-ID: 1", s.do(method, c.path, "", "Last-Event-ID", "1"), c.want)
			}
		}
		if r := s.do("GET", "/events?after=1", "", "Last-Event-ID", "1"); !strings.Contains(string(r.body), `"type":"B"`) || strings.Contains(string(r.body), `"type":"A"`) {
			t.Errorf("GET /events?after=1 with Last-Event-ID: 1: %s; want the page after position 1", r.body)
		}
	})
}

package http_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnEventStreamAskedOfAURLThatCannotSubscribeIs406: Accept:
// text/event-stream (what an EventSource sends) on a URL that serves JSON
// only (a stream's description, one event, the list of streams) was
// answered 200 JSON: an EventSource given /streams/{id}, its /events
// forgotten, failed on the media type alone, and README's retry loop,
// which took the 200 for a subscription, retried it for ever. It is a 406
// problem naming the URLs that subscribe; an Accept that also takes JSON
// (application/json, application/*, */*, with a q above 0) is served the
// JSON as before.
func TestAnEventStreamAskedOfAURLThatCannotSubscribeIs406(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		for _, path := range []string{"/streams/" + id, "/streams/" + id + "/events/1", "/streams"} {
			for _, accept := range []string{"text/event-stream", "Text/Event-Stream", "text/event-stream, text/html", "text/event-stream, application/json;q=0"} {
				r := s.do("GET", path, "", "Accept", accept)
				if r.status != 406 || r.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("GET %s, Accept %q: %d %s; want 406 problem+json", path, accept, r.status, r.body)
					continue
				}
				detail, _ := r.json(t)["detail"].(string)
				if !strings.Contains(detail, "/events") || !strings.Contains(detail, "application/json") {
					t.Errorf("GET %s, Accept %q: detail %q; want it to name the URLs that subscribe, and the JSON this one answers", path, accept, detail)
				}
			}
			for _, accept := range []string{"text/event-stream, application/json", "text/event-stream, */*;q=0.1", "text/event-stream, application/*",
				"application/json", "*/*", ""} {
				expectStatus(t, "GET "+path+", Accept "+accept, s.do("GET", path, "", "Accept", accept), 200)
			}
		}
	})
}

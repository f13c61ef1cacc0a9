package http_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAStarInAListOfTagsIsNoStar: If-Match and If-None-Match are * or a
// list of entity tags (RFC 9110 §13.1.1, §13.1.2), * only as the whole
// value. A * inside a list ("2", *), or in one of two header lines, was
// taken for *: If-Match held on every read and subscription whatever the
// tag, and If-None-Match answered 304 wherever there was an answer. Such
// a list is malformed: its * matches nothing, so a read's If-Match is a
// 412 unless a tag of it matches, its If-None-Match a 200 unless one
// does, and a subscription's If-Match a 412; an append's, whose
// precondition is one version or *, is a 400, as any other malformed
// one. On both stores.
func TestAStarInAListOfTagsIsNoStar(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := liveTestServer(t, k, true)
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		for _, c := range []struct {
			path, header, value string
			want                int
		}{
			{"/streams/" + id, "If-Match", `"2", *`, 412},
			{"/streams/" + id, "If-Match", `*, "2"`, 412},
			{"/streams/" + id, "If-Match", `*, *`, 412},
			{"/streams/" + id, "If-Match", `"1", *`, 200}, // its tag matches
			{"/streams/" + id + "/events", "If-Match", `"2", *`, 412},
			{"/streams/" + id + "/events/1", "If-Match", `"2", *`, 412},
			{"/events", "If-Match", `"2", *`, 412},
			{"/streams", "If-Match", `"2", *`, 412},
			{"/healthz", "If-Match", `"2", *`, 412},
			{"/", "If-Match", `"2", *`, 412},
			{"/streams/" + id, "If-None-Match", `"2", *`, 200},
			{"/streams/" + id, "If-None-Match", `"1", *`, 304}, // its tag matches
			{"/streams/" + id + "/events", "If-None-Match", `"2", *`, 200},
			{"/streams/" + id + "/events/1", "If-None-Match", `"2", *`, 200},
			{"/events", "If-None-Match", `*, "2"`, 200},
			{"/streams", "If-None-Match", `"2", *`, 200},
			{"/healthz", "If-None-Match", `"2", *`, 200},
			{"/", "If-None-Match", `"2", *`, 200},
			// * alone is still *.
			{"/streams/" + id, "If-Match", ` * `, 200},
			{"/events", "If-None-Match", `*`, 304},
		} {
			if r := s.do("GET", c.path, "", c.header, c.value); r.status != c.want {
				t.Errorf("GET %s %s: %s: status %d, want %d\nbody: %s", c.path, c.header, c.value, r.status, c.want, r.body)
			}
		}
		// Two header lines are one list.
		req, _ := http.NewRequest("GET", s.url+"/streams/"+id, nil)
		req.Header.Add("If-Match", `"2"`)
		req.Header.Add("If-Match", "*")
		if resp, err := s.client.Do(req); err != nil {
			t.Errorf(`GET /streams/%s If-Match: "2" and If-Match: *: %v`, id, err)
		} else if resp.Body.Close(); resp.StatusCode != 412 {
			t.Errorf(`GET /streams/%s If-Match: "2" and If-Match: *: status %d, want 412`, id, resp.StatusCode)
		}
		for _, path := range []string{"/events", "/streams/" + id + "/events"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			req, _ := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set("If-Match", `"2", *`)
			resp, err := http.DefaultClient.Do(req) // a 200 would be a stream: its status alone is read
			if err != nil {
				t.Errorf("a subscription of %s with If-Match \"2\", *: %v", path, err)
			} else {
				resp.Body.Close()
				if resp.StatusCode != http.StatusPreconditionFailed {
					t.Errorf("a subscription of %s with If-Match \"2\", *: status %d, want 412", path, resp.StatusCode)
				}
			}
			cancel()
		}
		for _, v := range []string{`"1", *`, `*, "1"`} {
			r := s.do("POST", "/streams/"+id+"/events", `{"events":[{"type":"B","data":1}]}`, "If-Match", v)
			expectStatus(t, "an append with If-Match: "+v, r, 400)
		}
		if r := s.do("GET", "/streams/"+id, ""); r.status != 200 || r.header.Get("ETag") != `"1"` {
			t.Errorf("the stream after the appends refused: %d, ETag %q; want it at version 1", r.status, r.header.Get("ETag"))
		}
	})
}

package http_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestIfNoneMatchStarIsNotModifiedWhereverThereIsAnAnswer: If-None-Match *
// holds no longer where the resource has a current representation (RFC
// 9110 13.1.2), and a GET or HEAD is then answered 304. A stream, its
// pages and the web page answered so; one event, a page of /events and a
// page of /streams (which have no entity tag) answered 200, as if it were
// not sent: the same header, on reads alike, two answers. Each is a 304
// now, with no ETag where the 200 has none; a tag still never matches
// them (200), and a missing event stays a 404. A subscription of either
// refuses If-None-Match (400, only for pages), the log's as a stream's did:
// it ran as if it were not sent. On both stores, checked against openapi.
func TestIfNoneMatchStarIsNotModifiedWhereverThereIsAnAnswer(t *testing.T) {
	t.Parallel()
	// openapi3filter passes any 304 unchecked: the document is read here.
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/streams/{stream_id}", "/streams/{stream_id}/events", "/streams/{stream_id}/events/{version}", "/events", "/streams"} {
		op := doc.Paths.Value(path).Get
		if op.Responses.Status(304) == nil {
			t.Errorf("openapi.yaml: GET %s does not list the 304 it answers If-None-Match: * with", path)
		}
		if !slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool { return p.Value.In == "header" && p.Value.Name == "If-None-Match" }) {
			t.Errorf("openapi.yaml: GET %s does not list If-None-Match among its parameters", path)
		}
	}
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := liveTestServer(t, k, true)
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		for _, c := range []struct {
			path, inm string
			want      int
			etag      bool
		}{
			{"/streams/" + id, "*", 304, true},
			{"/streams/" + id + "/events", "*", 304, true},
			{"/streams/" + id + "/events/1", "*", 304, false},
			{"/events", "*", 304, false},
			{"/events?stream_type=order", `"1", *`, 200, false}, // * in a list is no * (TestAStarInAListOfTagsIsNoStar)
			{"/streams", "*", 304, false},
			{"/streams/" + id + "/events/1", `"1"`, 200, false},
			{"/events", `W/"1"`, 200, false},
			{"/streams", `"1"`, 200, false},
			{"/streams/" + id + "/events/2", "*", 404, false},
			// * is never weak (RFC 9110 13.1.2): W/* is a tag that matches
			// nothing, on a stream's reads as on the others'.
			{"/streams/" + id, `W/*`, 200, true},
			{"/streams/" + id + "/events", `W/*`, 200, true},
			{"/events", `W/*`, 200, false},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				what := method + " " + c.path + " If-None-Match: " + c.inm
				r := s.do(method, c.path, "", "If-None-Match", c.inm)
				if r.status != c.want {
					t.Errorf("%s: status %d, want %d\nbody: %s", what, r.status, c.want, r.body)
					continue
				}
				if c.want == 304 && (r.header.Get("ETag") != "") != c.etag {
					t.Errorf("%s: 304 with ETag %q; want one only where its 200 has one (%v)", what, r.header.Get("ETag"), c.etag)
				}
			}
		}
		for _, path := range []string{"/events", "/streams/" + id + "/events"} {
			for _, inm := range []string{"*", `"1"`} {
				what := "a subscription of " + path + " with If-None-Match: " + inm
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				req, _ := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
				req.Header.Set("Accept", "text/event-stream")
				req.Header.Set("If-None-Match", inm)
				resp, err := s.client.Do(req) // checked against openapi.yaml, which reads it whole
				if err != nil {
					cancel()
					t.Errorf("%s: %v; want a 400 at once", what, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				if resp.StatusCode != 400 || !strings.Contains(string(body), "only for pages") {
					t.Errorf("%s: %d %s; want 400 saying If-None-Match is only for pages", what, resp.StatusCode, body)
				}
			}
		}
	})
}

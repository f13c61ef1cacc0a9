package tests

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestEveryClientErrorIsProblemJSONWithItsStatus walks the 4xx answers of
// API.md: each must carry the right status, be application/problem+json with
// type, title, status and detail, never be a 500, and write nothing.
func TestEveryClientErrorIsProblemJSONWithItsStatus(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := startServer(t, k.ServerEnv...)
		limited := startServer(t, append(k.ServerEnv, "TRIBUTARY_MAX_BODY_BYTES=2048", "TRIBUTARY_MAX_BATCH=5")...)

		existing := newID()
		srv.mustAppend(t, existing, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})

		const valid = `{"stream_type":"order","events":[{"type":"OrderPlaced","data":{}}]}`
		withEvent := func(e string) string { return `{"stream_type":"order","events":[` + e + `]}` }
		fresh := func() string { return "/streams/" + newID() + "/events" }
		long := "a" + strings.Repeat("b", 128)

		type errCase struct {
			name    string
			limited bool // send to the server with small limits
			method  string
			path    string
			body    string
			header  []string
			status  int
			slug    string // problem type after problemBase; "" = any
			check   func(t *testing.T, r *response)
		}
		post := func(name, body string, status int, slug string, header ...string) errCase {
			return errCase{name: name, method: http.MethodPost, path: fresh(), body: body, header: header, status: status, slug: slug}
		}
		get := func(name, path string, status int, slug string) errCase {
			return errCase{name: name, method: http.MethodGet, path: path, status: status, slug: slug}
		}
		allow := func(methods ...string) func(t *testing.T, r *response) {
			return func(t *testing.T, r *response) {
				allowed := map[string]bool{}
				for _, v := range r.Header.Values("Allow") {
					for _, m := range strings.Split(v, ",") {
						allowed[strings.TrimSpace(m)] = true
					}
				}
				for _, m := range methods {
					if !allowed[m] {
						t.Errorf("expected an Allow header holding %s, got %q", strings.Join(methods, " and "), r.Header.Values("Allow"))
					}
				}
			}
		}

		cases := []errCase{
			// Body shape.
			post("malformed JSON: truncated", `{"stream_type":"order","events":[`, 400, "bad-request"),
			post("malformed JSON: trailing comma", `{"stream_type":"order",}`, 400, "bad-request"),
			post("malformed JSON: not JSON at all", `stream_type=order`, 400, "bad-request"),
			post("malformed JSON: two objects", valid+valid, 400, "bad-request"),
			post("empty body", ``, 400, "bad-request"),
			post("body is an array", `[]`, 400, "bad-request"),
			post("body is null", `null`, 400, "bad-request"),
			post("events is an object", `{"stream_type":"order","events":{}}`, 400, "bad-request"),
			post("events is a string", `{"stream_type":"order","events":"x"}`, 400, "bad-request"),
			post("events is empty", `{"stream_type":"order","events":[]}`, 400, "bad-request"),
			post("events is missing", `{"stream_type":"order"}`, 400, "bad-request"),
			post("events is null", `{"stream_type":"order","events":null}`, 400, "bad-request"),
			post("event is a string", withEvent(`"OrderPlaced"`), 400, "bad-request"),
			post("event data missing", withEvent(`{"type":"OrderPlaced"}`), 400, "bad-request"),
			post("event type missing", withEvent(`{"data":{}}`), 400, "bad-request"),
			post("event type is a number", withEvent(`{"type":1,"data":{}}`), 400, "bad-request"),
			post("stream_type is a number", `{"stream_type":7,"events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			post("unknown top-level field", `{"stream_type":"order","events":[{"type":"A","data":{}}],"expected_version":1}`, 400, "bad-request"),
			post("unknown event field", withEvent(`{"type":"A","data":{},"tags":["x"]}`), 400, "bad-request"),
			// Identifiers and names.
			{name: "bad UUID in path", method: http.MethodPost, path: "/streams/not-a-uuid/events", body: valid, status: 400, slug: "bad-request"},
			{name: "UUID without dashes in path", method: http.MethodPost, path: "/streams/" + strings.ReplaceAll(newID(), "-", "") + "/events", body: valid, status: 400, slug: "bad-request"},
			{name: "UUID in braces in path", method: http.MethodPost, path: "/streams/{" + newID() + "}/events", body: valid, status: 400, slug: "bad-request"},
			{name: "nil UUID in path", method: http.MethodPost, path: "/streams/00000000-0000-0000-0000-000000000000/events", body: valid, status: 400, slug: "bad-request"},
			post("bad UUID as event id", withEvent(`{"id":"123","type":"A","data":{}}`), 400, "bad-request"),
			post("event id is a number", withEvent(`{"id":123,"type":"A","data":{}}`), 400, "bad-request"),
			post("event id repeated in the batch", func() string {
				id := newID()
				return withEvent(fmt.Sprintf(`{"id":%q,"type":"A","data":1},{"id":%q,"type":"B","data":2}`, id, id))
			}(), 400, "bad-request"),
			post("stream_type starts with a digit", `{"stream_type":"1x","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			post("stream_type of 129 characters", `{"stream_type":"`+long+`","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			post("stream_type with non-ASCII letters", `{"stream_type":"grüße","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			post("stream_type with a space", `{"stream_type":"my order","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			post("event type starts with a digit", withEvent(`{"type":"1x","data":{}}`), 400, "bad-request"),
			post("event type of 129 characters", withEvent(`{"type":"`+long+`","data":{}}`), 400, "bad-request"),
			post("event type with unicode", withEvent(`{"type":"東京","data":{}}`), 400, "bad-request"),
			post("event type empty", withEvent(`{"type":"","data":{}}`), 400, "bad-request"),
			post("metadata is an array", withEvent(`{"type":"A","data":{},"metadata":[1]}`), 400, "bad-request"),
			post("metadata is a string", withEvent(`{"type":"A","data":{},"metadata":"x"}`), 400, "bad-request"),
			post("metadata is a number", withEvent(`{"type":"A","data":{},"metadata":1}`), 400, "bad-request"),
			post("stream_type missing on a new stream", `{"events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			// Expected-version headers.
			post("If-Match weak tag", valid, 400, "bad-request", "If-Match", `W/"1"`),
			post("If-Match list of tags", valid, 400, "bad-request", "If-Match", `"1", "2"`),
			post("If-Match sent twice", valid, 400, "bad-request", "If-Match", `"1"`, "If-Match", `"2"`),
			post("If-Match not a number", valid, 400, "bad-request", "If-Match", `"x"`),
			post("If-Match unquoted", valid, 400, "bad-request", "If-Match", `x`),
			post("If-Match unquoted number", valid, 400, "bad-request", "If-Match", `1`),
			post("If-Match negative", valid, 400, "bad-request", "If-Match", `"-1"`),
			post("If-None-Match with a tag on append", valid, 400, "bad-request", "If-None-Match", `"3"`),
			post("If-Match and If-None-Match together", valid, 400, "bad-request", "If-Match", `"0"`, "If-None-Match", "*"),
			// State of an existing stream.
			{name: "stream_type mismatch on an existing stream", method: http.MethodPost, path: "/streams/" + existing + "/events",
				body: `{"stream_type":"invoice","events":[{"type":"A","data":{}}]}`, status: 409, slug: "stream-type-mismatch"},
			// Limits and media types.
			{name: "body over TRIBUTARY_MAX_BODY_BYTES", limited: true, method: http.MethodPost, path: fresh(),
				body: withEvent(`{"type":"A","data":"` + strings.Repeat("x", 4096) + `"}`), status: 413, slug: "too-large"},
			{name: "batch over TRIBUTARY_MAX_BATCH", limited: true, method: http.MethodPost, path: fresh(),
				body: string(jsonBytes(t, appendBody{StreamType: "order", Events: events(6, "A")})), status: 413, slug: "too-large"},
			post("Content-Type text/plain", valid, 415, "unsupported-media-type", "Content-Type", "text/plain"),
			post("no Content-Type", valid, 415, "unsupported-media-type", "Content-Type", ""),
			post("Content-Type JSON in Latin-1", valid, 415, "unsupported-media-type", "Content-Type", "application/json; charset=iso-8859-1"),
			// Read parameters.
			get("stream read limit=0", "/streams/"+existing+"/events?limit=0", 400, "bad-request"),
			get("stream read limit=1001", "/streams/"+existing+"/events?limit=1001", 400, "bad-request"),
			get("stream read limit=abc", "/streams/"+existing+"/events?limit=abc", 400, "bad-request"),
			get("stream read from=0", "/streams/"+existing+"/events?from=0", 400, "bad-request"),
			get("stream read from=-1", "/streams/"+existing+"/events?from=-1", 400, "bad-request"),
			get("stream read direction=sideways", "/streams/"+existing+"/events?direction=sideways", 400, "bad-request"),
			get("log read after=-1", "/events?after=-1", 400, "bad-request"),
			get("log read limit=0", "/events?limit=0", 400, "bad-request"),
			get("log read limit=1001", "/events?limit=1001", 400, "bad-request"),
			get("log read stream_type=1x", "/events?stream_type=1x", 400, "bad-request"),
			get("stream list limit=0", "/streams?limit=0", 400, "bad-request"),
			get("stream list after=nope", "/streams?after=nope", 400, "bad-request"),
			get("bad UUID in a stream read", "/streams/not-a-uuid", 400, "bad-request"),
			get("event version 0", "/streams/"+existing+"/events/0", 400, "bad-request"),
			get("event version not a number", "/streams/"+existing+"/events/abc", 400, "bad-request"),
			// Not found.
			get("unknown stream", "/streams/"+newID(), 404, "not-found"),
			get("unknown stream's events", "/streams/"+newID()+"/events", 404, "not-found"),
			get("unknown event version", "/streams/"+existing+"/events/99", 404, "not-found"),
			get("event of an unknown stream", "/streams/"+newID()+"/events/1", 404, "not-found"),
			get("unknown path", "/nope", 404, "not-found"),
			get("unknown path under a stream", "/streams/"+existing+"/nope", 404, "not-found"),
			// Methods.
			{name: "DELETE on a stream's events", method: http.MethodDelete, path: "/streams/" + existing + "/events",
				status: 405, slug: "method-not-allowed", check: allow("GET", "POST")},
			{name: "PUT on a stream", method: http.MethodPut, path: "/streams/" + existing, body: valid,
				header: []string{"Content-Type", "application/json"}, status: 405, slug: "method-not-allowed", check: allow("GET")},
			{name: "POST on the log", method: http.MethodPost, path: "/events", body: valid,
				status: 405, slug: "method-not-allowed", check: allow("GET")},
		}

		t.Run("cases", func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := srv
					if tc.limited {
						s = limited
					}
					var body []byte
					if tc.body != "" || tc.method == http.MethodPost {
						body = []byte(tc.body)
					}
					r := s.do(t, tc.method, tc.path, body, tc.header...)
					checkProblem(t, r, tc.status, tc.slug)
					if tc.check != nil {
						tc.check(t, r)
					}
				})
			}
		})

		// Nothing of any refused append was written.
		if log := srv.readLog(t, "/events"); len(log) != 1 {
			t.Errorf("GET /events: expected only the setup event after the refused appends, got %d events", len(log))
		}
		if log := limited.readLog(t, "/events"); len(log) != 0 {
			t.Errorf("GET /events on the limited server: expected no events after the refused appends, got %d", len(log))
		}

		t.Run("limits are inclusive", func(t *testing.T) {
			limited.mustAppend(t, newID(), appendBody{StreamType: "order", Events: events(5, "A")})
			body := withEvent(`{"type":"A","data":"`)
			body += strings.Repeat("x", 2048-len(body)-len(`"}]}`)) + `"}]}`
			if len(body) != 2048 {
				t.Fatalf("test bug: body is %d bytes, not 2048", len(body))
			}
			limited.mustAppend(t, newID(), body)
		})
	})
}

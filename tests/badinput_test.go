package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// The bad-input table: every 4xx answer of API.md, and hostile or malformed
// input on every field and header, must get a problem whose detail says what
// is wrong (never a 5xx, never a write), or, where API.md allows the value, be
// stored and read back byte for byte.

// badRequest is one request that must be refused with a 4xx problem.
type badRequest struct {
	name    string
	limited bool   // send to the server with small limits
	method  string // POST unless set
	path    string // a fresh stream's events unless set
	body    string
	header  []string
	status  []int  // acceptable statuses; 400 unless set
	slug    string // the problem type after problemBase; "" = any
	hint    string // the problem detail must mention it (any case)
	member  string // the problem detail must name this body member as sent
	check   func(t *testing.T, r *response)
}

// badInputString is s as a JSON string. Unlike json.Marshal it escapes
// nothing but what JSON requires, so unicode arrives as sent.
func badInputString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s) //nolint:errcheck // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// TestBadInputIsRefusedWithAProblemThatSaysWhatIsWrong walks the 4xx answers
// of API.md and sends hostile and malformed requests, field by field, header
// by header: each must be a problem+json with its status (never a 5xx), with
// type, title, status and a detail that names what is wrong, and write
// nothing. Limits are checked on a server with small ones.
func TestBadInputIsRefusedWithAProblemThatSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		srv := startServer(t, k.ServerEnv...)
		limited := startServer(t, append(k.ServerEnv, "TRIBUTARY_MAX_BODY_BYTES=2048", "TRIBUTARY_MAX_BATCH=5")...)
		existing := newID()
		srv.mustAppend(t, existing, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})

		const valid = `{"stream_type":"order","events":[{"type":"A","data":{}}]}`
		withStreamType := func(raw string) string { return `{"stream_type":` + raw + `,"events":[{"type":"A","data":{}}]}` }
		withEvents := func(raw string) string { return `{"stream_type":"order","events":` + raw + `}` }
		withEvent := func(e string) string { return withEvents(`[` + e + `]`) }
		withType := func(raw string) string { return withEvent(`{"type":` + raw + `,"data":{}}`) }
		post := func(name, body, hint string, header ...string) badRequest {
			return badRequest{name: name, body: body, hint: hint, header: header}
		}
		get := func(name, path, hint string) badRequest {
			return badRequest{name: name, method: http.MethodGet, path: path, hint: hint}
		}
		postStatus := func(name, body string, status int, slug string, header ...string) badRequest {
			return badRequest{name: name, body: body, header: header, status: []int{status}, slug: slug}
		}
		getStatus := func(name, path string, status int, slug string) badRequest {
			return badRequest{name: name, method: http.MethodGet, path: path, status: []int{status}, slug: slug}
		}
		member := func(body, name string) badRequest {
			return badRequest{name: "member " + name + " in " + body, body: body, member: name}
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
		fresh := func() string { return "/streams/" + newID() + "/events" }
		ifMatch := func(name, value string) badRequest {
			return post(name, valid, "If-Match", "If-Match", value)
		}
		ifNoneMatch := func(name, value string) badRequest {
			return post(name, valid, "If-None-Match", "If-None-Match", value)
		}
		long := "a" + strings.Repeat("b", 128)
		id := newID()
		streamEvents := "/streams/" + existing + "/events"

		cases := []badRequest{
			// Body shape (the plain 4xx answers of API.md first).
			postStatus("malformed JSON: truncated", `{"stream_type":"order","events":[`, 400, "bad-request"),
			postStatus("malformed JSON: trailing comma", `{"stream_type":"order",}`, 400, "bad-request"),
			postStatus("malformed JSON: not JSON at all", `stream_type=order`, 400, "bad-request"),
			postStatus("malformed JSON: two objects", valid+valid, 400, "bad-request"),
			postStatus("empty body", ``, 400, "bad-request"),
			postStatus("body is an array", `[]`, 400, "bad-request"),
			postStatus("body is null", `null`, 400, "bad-request"),
			postStatus("events is an object", `{"stream_type":"order","events":{}}`, 400, "bad-request"),
			postStatus("events is a string", `{"stream_type":"order","events":"x"}`, 400, "bad-request"),
			postStatus("events is empty", `{"stream_type":"order","events":[]}`, 400, "bad-request"),
			postStatus("events is missing", `{"stream_type":"order"}`, 400, "bad-request"),
			postStatus("events is null", `{"stream_type":"order","events":null}`, 400, "bad-request"),
			postStatus("event is a string", withEvent(`"OrderPlaced"`), 400, "bad-request"),
			postStatus("event data missing", withEvent(`{"type":"OrderPlaced"}`), 400, "bad-request"),
			postStatus("event type missing", withEvent(`{"data":{}}`), 400, "bad-request"),
			postStatus("event type is a number", withEvent(`{"type":1,"data":{}}`), 400, "bad-request"),
			// null is not an empty string, and says so.
			{name: "event type null", body: withEvent(`{"type":null,"data":{}}`), status: []int{400}, slug: "bad-request",
				hint: "events[0].type must be a string, not null"},
			postStatus("stream_type is a number", `{"stream_type":7,"events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			postStatus("unknown top-level field", `{"stream_type":"order","events":[{"type":"A","data":{}}],"expected_version":1}`, 400, "bad-request"),
			postStatus("unknown event field", withEvent(`{"type":"A","data":{},"tags":["x"]}`), 400, "bad-request"),
			// Identifiers and names.
			{name: "bad UUID in path", method: http.MethodPost, path: "/streams/not-a-uuid/events", body: valid, status: []int{400}, slug: "bad-request"},
			{name: "UUID without dashes in path", method: http.MethodPost, path: "/streams/" + strings.ReplaceAll(newID(), "-", "") + "/events", body: valid, status: []int{400}, slug: "bad-request"},
			{name: "UUID in braces in path", method: http.MethodPost, path: "/streams/{" + newID() + "}/events", body: valid, status: []int{400}, slug: "bad-request"},
			{name: "nil UUID in path", method: http.MethodPost, path: "/streams/00000000-0000-0000-0000-000000000000/events", body: valid, status: []int{400}, slug: "bad-request"},
			postStatus("bad UUID as event id", withEvent(`{"id":"123","type":"A","data":{}}`), 400, "bad-request"),
			postStatus("event id is a number", withEvent(`{"id":123,"type":"A","data":{}}`), 400, "bad-request"),
			// An empty or null id is not a left-out one: taken for one, each
			// retry of the append would be written again (hostile review).
			// JSON nested past the parser's depth: a detail of a few
			// hundred bytes, not one that names every level (it was 30 KB).
			{name: "data nested 12,000 levels deep", body: withEvent(`{"type":"A","data":` + strings.Repeat("[", 12000) + strings.Repeat("]", 12000) + `}`),
				status: []int{400}, slug: "bad-request", hint: "levels deep", check: func(t *testing.T, r *response) {
					if len(r.Body) > 1000 {
						t.Errorf("a problem of %d bytes; want a few hundred", len(r.Body))
					}
				}},
			// A member name of any length is named in a short detail.
			{name: "unknown member with a name of 100,000 characters", body: withEvent(`{"type":"A","data":{},"` + strings.Repeat("é", 50000) + `":1}`),
				status: []int{400}, slug: "bad-request", hint: "unknown", check: func(t *testing.T, r *response) {
					if len(r.Body) > 1000 || !utf8.Valid(r.Body) {
						t.Errorf("a problem of %d bytes (valid UTF-8: %v); want a few hundred", len(r.Body), utf8.Valid(r.Body))
					}
				}},
			postStatus("event id empty", withEvent(`{"id":"","type":"A","data":{}}`), 400, "bad-request"),
			postStatus("event id null", withEvent(`{"id":null,"type":"A","data":{}}`), 400, "bad-request"),
			{name: "stream_type empty on an existing stream", method: http.MethodPost, path: streamEvents,
				body: withStreamType(`""`), status: []int{400}, slug: "bad-request", hint: "stream_type"},
			{name: "stream_type null on an existing stream", method: http.MethodPost, path: streamEvents,
				body: withStreamType(`null`), status: []int{400}, slug: "bad-request", hint: "stream_type"},
			postStatus("stream_type empty on a new stream", withStreamType(`""`), 400, "bad-request"),
			postStatus("event id repeated in the batch", func() string {
				id := newID()
				return withEvent(fmt.Sprintf(`{"id":%q,"type":"A","data":1},{"id":%q,"type":"B","data":2}`, id, id))
			}(), 400, "bad-request"),
			postStatus("stream_type starts with a digit", `{"stream_type":"1x","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			postStatus("stream_type of 129 characters", `{"stream_type":"`+long+`","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			postStatus("stream_type with non-ASCII letters", `{"stream_type":"grüße","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			postStatus("stream_type with a space", `{"stream_type":"my order","events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			postStatus("event type starts with a digit", withEvent(`{"type":"1x","data":{}}`), 400, "bad-request"),
			postStatus("event type of 129 characters", withEvent(`{"type":"`+long+`","data":{}}`), 400, "bad-request"),
			postStatus("event type with unicode", withEvent(`{"type":"東京","data":{}}`), 400, "bad-request"),
			postStatus("event type empty", withEvent(`{"type":"","data":{}}`), 400, "bad-request"),
			postStatus("metadata is an array", withEvent(`{"type":"A","data":{},"metadata":[1]}`), 400, "bad-request"),
			postStatus("metadata is a string", withEvent(`{"type":"A","data":{},"metadata":"x"}`), 400, "bad-request"),
			postStatus("metadata is a number", withEvent(`{"type":"A","data":{},"metadata":1}`), 400, "bad-request"),
			postStatus("stream_type missing on a new stream", `{"events":[{"type":"A","data":{}}]}`, 400, "bad-request"),
			// Expected-version headers.
			postStatus("If-Match weak tag", valid, 400, "bad-request", "If-Match", `W/"1"`),
			postStatus("If-Match list of tags", valid, 400, "bad-request", "If-Match", `"1", "2"`),
			postStatus("If-Match sent twice", valid, 400, "bad-request", "If-Match", `"1"`, "If-Match", `"2"`),
			postStatus("If-Match not a number", valid, 400, "bad-request", "If-Match", `"x"`),
			postStatus("If-Match unquoted", valid, 400, "bad-request", "If-Match", `x`),
			postStatus("If-Match unquoted number", valid, 400, "bad-request", "If-Match", `1`),
			postStatus("If-Match negative", valid, 400, "bad-request", "If-Match", `"-1"`),
			postStatus("If-None-Match with a tag on append", valid, 400, "bad-request", "If-None-Match", `"3"`),
			postStatus("If-Match and If-None-Match together", valid, 400, "bad-request", "If-Match", `"0"`, "If-None-Match", "*"),
			// State of an existing stream.
			{name: "stream_type mismatch on an existing stream", method: http.MethodPost, path: "/streams/" + existing + "/events",
				body: `{"stream_type":"invoice","events":[{"type":"A","data":{}}]}`, status: []int{409}, slug: "stream-type-mismatch"},
			// Limits and media types.
			{name: "body over TRIBUTARY_MAX_BODY_BYTES", limited: true, method: http.MethodPost, path: fresh(),
				body: withEvent(`{"type":"A","data":"` + strings.Repeat("x", 4096) + `"}`), status: []int{413}, slug: "too-large"},
			{name: "batch over TRIBUTARY_MAX_BATCH", limited: true, method: http.MethodPost, path: fresh(),
				body: string(jsonBytes(t, appendBody{StreamType: "order", Events: events(6, "A")})), status: []int{413}, slug: "too-large"},
			postStatus("Content-Type text/plain", valid, 415, "unsupported-media-type", "Content-Type", "text/plain"),
			postStatus("no Content-Type", valid, 415, "unsupported-media-type", "Content-Type", ""),
			postStatus("Content-Type sent twice", valid, 400, "bad-request", "Content-Type", "application/json", "Content-Type", "text/plain"),
			postStatus("Content-Type JSON in Latin-1", valid, 415, "unsupported-media-type", "Content-Type", "application/json; charset=iso-8859-1"),
			// Read parameters.
			getStatus("stream read limit=0", "/streams/"+existing+"/events?limit=0", 400, "bad-request"),
			getStatus("stream read limit=1001", "/streams/"+existing+"/events?limit=1001", 400, "bad-request"),
			getStatus("stream read limit=abc", "/streams/"+existing+"/events?limit=abc", 400, "bad-request"),
			getStatus("stream read from=0", "/streams/"+existing+"/events?from=0", 400, "bad-request"),
			getStatus("stream read from=-1", "/streams/"+existing+"/events?from=-1", 400, "bad-request"),
			getStatus("stream read direction=sideways", "/streams/"+existing+"/events?direction=sideways", 400, "bad-request"),
			getStatus("log read after=-1", "/events?after=-1", 400, "bad-request"),
			getStatus("log read limit=0", "/events?limit=0", 400, "bad-request"),
			getStatus("log read limit=1001", "/events?limit=1001", 400, "bad-request"),
			getStatus("log read stream_type=1x", "/events?stream_type=1x", 400, "bad-request"),
			getStatus("stream list limit=0", "/streams?limit=0", 400, "bad-request"),
			getStatus("metrics with an unknown parameter", "/metrics?bogus=1", 400, "bad-request"),
			getStatus("stream list after=nope", "/streams?after=nope", 400, "bad-request"),
			getStatus("bad UUID in a stream read", "/streams/not-a-uuid", 400, "bad-request"),
			getStatus("event version 0", "/streams/"+existing+"/events/0", 400, "bad-request"),
			getStatus("event version not a number", "/streams/"+existing+"/events/abc", 400, "bad-request"),
			// Not found.
			getStatus("unknown stream", "/streams/"+newID(), 404, "not-found"),
			getStatus("unknown stream's events", "/streams/"+newID()+"/events", 404, "not-found"),
			getStatus("unknown event version", "/streams/"+existing+"/events/99", 404, "not-found"),
			getStatus("event of an unknown stream", "/streams/"+newID()+"/events/1", 404, "not-found"),
			getStatus("unknown path", "/nope", 404, "not-found"),
			getStatus("unknown path under a stream", "/streams/"+existing+"/nope", 404, "not-found"),
			// Methods.
			{name: "DELETE on a stream's events", method: http.MethodDelete, path: "/streams/" + existing + "/events",
				status: []int{405}, slug: "method-not-allowed", check: allow("GET", "POST")},
			{name: "PUT on a stream", method: http.MethodPut, path: "/streams/" + existing, body: valid,
				header: []string{"Content-Type", "application/json"}, status: []int{405}, slug: "method-not-allowed", check: allow("GET")},
			// chi routes an encoded slash as part of the stream id: the
			// Allow header and the detail must say what that route allows,
			// not the decoded path's (a hostile review found 405 with
			// Allow: GET, HEAD, POST).
			{name: "POST to a stream id holding an encoded slash", method: http.MethodPost, path: "/streams/" + existing + "%2Fevents", body: valid,
				status: []int{405}, slug: "method-not-allowed", check: func(t *testing.T, r *response) {
					if a := strings.Join(r.Header.Values("Allow"), ","); strings.Contains(a, "POST") {
						t.Errorf("Allow %q holds POST, the method refused", a)
					}
				}},
			{name: "POST on the log", method: http.MethodPost, path: "/events", body: valid,
				status: []int{405}, slug: "method-not-allowed", check: allow("GET")},

			// Member names differing from API.md's only in case, or repeated,
			// at every level of the body (data and metadata included: parsers
			// disagree on which of two equal names wins, and the stored bytes
			// go to other programs).
			member(`{"STREAM_TYPE":"order","events":[{"type":"A","data":1}]}`, "STREAM_TYPE"),
			member(`{"stream_type":"order","Events":[{"type":"A","data":1}]}`, "Events"),
			member(`{"stream_type":"order","events":[{"Type":"A","data":1}]}`, "Type"),
			member(`{"stream_type":"order","events":[{"type":"A","DATA":1}]}`, "DATA"),
			member(`{"stream_type":"order","events":[{"type":"A","data":1,"Metadata":{}}]}`, "Metadata"),
			member(`{"stream_type":"order","events":[{"ID":"0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10","type":"A","data":1}]}`, "ID"),
			member(`{"stream_type":"order","stream_type":"invoice","events":[{"type":"A","data":1}]}`, "stream_type"),
			member(`{"stream_type":"order","events":[{"type":"A","data":1}],"events":[{"type":"B","data":2}]}`, "events"),
			member(`{"stream_type":"order","events":[{"type":"A","type":"B","data":1}]}`, "type"),
			member(`{"stream_type":"order","events":[{"type":"A","data":1,"data":2}]}`, "data"),
			member(`{"stream_type":"order","events":[{"type":"A","data":{"total":1,"total":2}}]}`, "total"),
			member(`{"stream_type":"order","events":[{"type":"A","data":[{"x":{"y":1,"y":1}}]}]}`, "y"),
			member(`{"stream_type":"order","events":[{"type":"A","data":1,"metadata":{"correlation_id":"a","correlation_id":"b"}}]}`, "correlation_id"),

			// SQL injection in every field that has a grammar.
			post("SQL injection in stream_type", withStreamType(`"order'; DROP TABLE events; --"`), "stream_type"),
			post("SQL injection in stream_type: OR 1=1", withStreamType(`"\" OR 1=1 --"`), "stream_type"),
			post("LIKE wildcard in stream_type", withStreamType(`"order%"`), "stream_type"),
			post("backslash in stream_type", withStreamType(`"order\\"`), "stream_type"),
			post("SQL injection in event type", withType(`"A'; DROP TABLE events; --"`), "type"),
			post("SQL injection in event type: OR 1=1", withType(`"A\" OR \"1\"=\"1"`), "type"),
			post("LIKE wildcard in event type", withType(`"A%"`), "type"),
			post("SQL injection in event id", withEvent(`{"id":"' OR 1=1 --","type":"A","data":{}}`), "id"),
			post("SQL injection of UUID length in event id", withEvent(`{"id":"' OR 1=1 -- xxxxxxxxxxxxxxxxxxxxxxxx","type":"A","data":{}}`), "id"),
			{name: "SQL injection in the stream id of the path", path: "/streams/'%20OR%201=1%20--/events", body: valid, hint: "stream_id"},
			get("SQL injection in ?stream_type of the log", "/events?stream_type=order'%20OR%20'1'='1", "stream_type"),
			get("LIKE wildcard in ?type of the log", "/events?type=%25", "type"),
			get("underscore alone in ?type of the log", "/events?type=_", "type"),
			get("SQL injection in ?stream_type of the stream list", "/streams?stream_type=x%27%20OR%201=1%20--", "stream_type"),
			get("SQL injection in ?after of the stream list", "/streams?after=%27%20OR%201=1%20--", "after"),

			// Unicode names: API.md names are ASCII.
			post("fullwidth stream_type", withStreamType(`"ｏｒｄｅｒ"`), "stream_type"),
			post("Cyrillic homoglyph in stream_type", withStreamType(`"оrder"`), "stream_type"),
			post("zero-width space in stream_type", withStreamType(badInputString("order\u200b")), "stream_type"),
			post("right-to-left override in stream_type", withStreamType(badInputString("order\u202e")), "stream_type"),
			post("emoji in stream_type", withStreamType(`"order🎉"`), "stream_type"),
			post("escaped NUL in stream_type", withStreamType(`"order\u0000"`), "stream_type"),
			post("combining accent in event type", withType(badInputString("Cafe\u0301")), "type"),
			post("accented letter in event type", withType(`"Ordér"`), "type"),
			post("no-break space in event type", withType(badInputString("Order\u00a0Placed")), "type"),
			post("escaped NUL in event type", withType(`"A\u0000"`), "type"),
			post("escaped NUL in event id", withEvent(`{"id":"`+id[:35]+`\u0000","type":"A","data":{}}`), "id"),
			get("accented ?type of the log", "/events?type=A,%C3%A9", "type"),
			get("CJK ?stream_type of the log", "/events?stream_type=%E6%9D%B1", "stream_type"),

			// Over-long names.
			post("stream_type of 10,000 characters", withStreamType(`"`+strings.Repeat("a", 10000)+`"`), "stream_type"),
			post("event type of 129 characters in the second event", withEvents(`[{"type":"A","data":1},{"type":"`+long+`","data":2}]`), "events[1].type"),
			get("?type of 129 characters", "/events?type="+long, "type"),
			get("?stream_type of 129 characters", "/streams?stream_type="+long, "stream_type"),

			// Duplicate ids inside one batch.
			post("event id repeated in upper case", withEvents(fmt.Sprintf(`[{"id":%q,"type":"A","data":1},{"id":%q,"type":"A","data":2}]`,
				id, strings.ToUpper(id))), "events[1].id"),
			post("event id repeated two events later", withEvents(fmt.Sprintf(`[{"id":%q,"type":"A","data":1},{"type":"A","data":2},{"id":%q,"type":"A","data":3}]`,
				id, id)), "events[2].id"),

			// Wrong JSON types, field by field.
			post("body is a string", `"x"`, "object"),
			post("body is a number", `1`, "object"),
			post("body is true", `true`, "object"),
			post("stream_type is true", withStreamType(`true`), "stream_type"),
			post("stream_type is an array", withStreamType(`["order"]`), "stream_type"),
			post("stream_type is an object", withStreamType(`{"name":"order"}`), "stream_type"),
			post("stream_type is a fraction", withStreamType(`1.5`), "stream_type"),
			post("stream_type is null on a new stream", withStreamType(`null`), "stream_type"),
			post("events is a number", withEvents(`1`), "events"),
			post("events is true", withEvents(`true`), "events"),
			post("events holds null", withEvents(`[null]`), "events[0] must be an object, not null"),
			post("events holds a number", withEvents(`[1]`), "events"),
			post("events holds an array", withEvents(`[[]]`), "events"),
			post("events holds true", withEvents(`[true]`), "events"),
			post("event id is true", withEvent(`{"id":true,"type":"A","data":{}}`), "id"),
			post("event id is an object", withEvent(`{"id":{},"type":"A","data":{}}`), "id"),
			post("event id is an array", withEvent(`{"id":["`+id+`"],"type":"A","data":{}}`), "id"),
			post("event type is true", withType(`true`), "type"),
			post("event type is null", withType(`null`), "type"),
			post("event type is an array", withType(`["A"]`), "type"),
			post("event type is an object", withType(`{}`), "type"),
			post("metadata is true", withEvent(`{"type":"A","data":{},"metadata":true}`), "metadata"),
			post("metadata is false", withEvent(`{"type":"A","data":{},"metadata":false}`), "metadata"),

			// NUL bytes outside JSON escapes.
			post("raw NUL inside the data string", withEvent("{\"type\":\"A\",\"data\":\"a\x00b\"}"), "JSON"),
			post("raw NUL inside stream_type", withStreamType("\"order\x00\""), "JSON"),
			post("raw NUL between members", "{\"stream_type\":\"order\",\x00\"events\":[{\"type\":\"A\",\"data\":{}}]}", "JSON"),
			post("raw NUL after the object", valid+"\x00", "nothing after"),
			post("body is one raw NUL", "\x00", "JSON"),

			// Expected-version headers with spaces, tabs and unicode.
			ifMatch("If-Match with a space inside the quotes", `"0 "`),
			ifMatch("If-Match with a space after the opening quote", `" 0"`),
			ifMatch("If-Match with a tab inside the quotes", "\"0\t\""),
			ifMatch("If-Match with two tags and no comma", `"0" "1"`),
			ifMatch("If-Match with * and a tag", `*, "1"`),
			ifMatch("If-Match with a fullwidth digit", `"０"`),
			ifMatch("If-Match with an Arabic-Indic digit", `"٠"`),
			ifMatch("If-Match with typographic quotes", `“0”`),
			ifMatch("If-Match with a no-break space before the tag", "\u00a0\"0\""),
			ifMatch("If-Match with an ideographic space after the tag", "\"0\"\u3000"),
			ifMatch("If-Match with a no-break space after *", "*\u00a0"),
			ifMatch("If-Match without its closing quote", `"0`),
			ifMatch("If-Match without its opening quote", `0"`),
			ifMatch("If-Match with doubled quotes", `""0""`),
			ifMatch("If-Match weak with a space", `W/ "0"`),
			ifNoneMatch("If-None-Match with a no-break space after *", "*\u00a0"),
			ifNoneMatch("If-None-Match with * quoted", `"*"`),
			ifNoneMatch("If-None-Match with **", `**`),
			ifNoneMatch("If-None-Match with * *", `* *`),

			// Query parameters with huge or oddly spelled numbers.
			get("stream read limit=99999999999999999999", streamEvents+"?limit=99999999999999999999", "limit"),
			get("stream read limit=+5", streamEvents+"?limit=+5", "limit"),
			get("stream read limit=1e2", streamEvents+"?limit=1e2", "limit"),
			get("stream read limit=0x10", streamEvents+"?limit=0x10", "limit"),
			get("stream read limit with a leading space", streamEvents+"?limit=%201", "limit"),
			get("stream read limit of fullwidth digits", streamEvents+"?limit=%EF%BC%91", "limit"),
			get("stream read from=99999999999999999999", streamEvents+"?from=99999999999999999999", "from"),
			get("stream read from=1e3", streamEvents+"?from=1e3", "from"),
			get("stream read from=+1", streamEvents+"?from=+1", "from"),
			get("stream read from=1.0", streamEvents+"?from=1.0", "from"),
			get("log read after=-0", "/events?after=-0", "after"),
			get("log read after=+0", "/events?after=+0", "after"),
			get("log read after=99999999999999999999", "/events?after=99999999999999999999", "after"),
			get("log read after=9223372036854775808", "/events?after=9223372036854775808", "after"),
			get("log read after=1e3", "/events?after=1e3", "after"),
			get("log read after=0.5", "/events?after=0.5", "after"),
			get("log read limit=-0", "/events?limit=-0", "limit"),
			get("stream list limit=99999999999999999999", "/streams?limit=99999999999999999999", "limit"),
			get("event version 99999999999999999999", streamEvents+"/99999999999999999999", "version"),
			get("event version +1", streamEvents+"/+1", "version"),
			get("event version -0", streamEvents+"/-0", "version"),

			// A query that does not parse must not lose a filter silently:
			// net/url drops a pair holding ';' or a bad escape.
			get("log read ?stream_type with a semicolon", "/events?stream_type=order;x", "query"),
			get("log read ?type with a bad escape", "/events?type=%zz", "query"),
			get("stream list ?stream_type with a semicolon", "/streams?stream_type=x;DROP%20TABLE%20streams", "query"),
			get("stream read ?limit with a bad escape", streamEvents+"?limit=%zz", "query"),

			// Last-Event-ID of a subscription, as a browser would never send it.
			{name: "Last-Event-ID 99999999999999999999", method: http.MethodGet, path: streamEvents, hint: "Last-Event-ID",
				header: []string{"Accept", "text/event-stream", "Last-Event-ID", "99999999999999999999"}},
			{name: "Last-Event-ID -0", method: http.MethodGet, path: "/events", hint: "Last-Event-ID",
				header: []string{"Accept", "text/event-stream", "Last-Event-ID", "-0"}},
			{name: "Last-Event-ID +1", method: http.MethodGet, path: "/events", hint: "Last-Event-ID",
				header: []string{"Accept", "text/event-stream", "Last-Event-ID", "+1"}},
			{name: "Last-Event-ID with a no-break space", method: http.MethodGet, path: streamEvents, hint: "Last-Event-ID",
				header: []string{"Accept", "text/event-stream", "Last-Event-ID", "\u00a01"}},
			{name: "Last-Event-ID sent twice", method: http.MethodGet, path: "/events", hint: "one Last-Event-ID",
				header: []string{"Accept", "text/event-stream", "Last-Event-ID", "1", "Last-Event-ID", "3"}},
			// A subscription's parameters are checked, on a stream as on
			// the log (a hostile review found a stream's subscription took
			// any limit; limit is now refused on a subscription).
			{name: "stream subscription limit=abc", method: http.MethodGet, path: streamEvents + "?limit=abc", hint: "limit",
				header: []string{"Accept", "text/event-stream"}},
			{name: "stream subscription limit=0", method: http.MethodGet, path: streamEvents + "?limit=0", hint: "limit",
				header: []string{"Accept", "text/event-stream"}},
			{name: "stream subscription limit=5000", method: http.MethodGet, path: streamEvents + "?limit=5000", hint: "limit",
				header: []string{"Accept", "text/event-stream"}},
			{name: "log subscription limit=abc", method: http.MethodGet, path: "/events?limit=abc", hint: "limit",
				header: []string{"Accept", "text/event-stream"}},
			{name: "stream subscription direction=sideways", method: http.MethodGet, path: streamEvents + "?direction=sideways", hint: "forward or backward",
				header: []string{"Accept", "text/event-stream"}},
			{name: "stream subscription direction=backward", method: http.MethodGet, path: streamEvents + "?direction=backward", hint: "only for pages",
				header: []string{"Accept", "text/event-stream"}},
		}

		// Paths with encoded slashes, dots and NULs: 400 or 404, never 5xx,
		// for reads and appends alike; an append to a path that matches a
		// read-only route, such as an event's, may be 405.
		for _, p := range []string{
			"/streams/..%2f..%2fetc/events",
			"/streams/..%2F..%2Fetc%2Fpasswd",
			"/streams/%2e%2e/events",
			"/streams/%2e%2e%2f%2e%2e%2fetc/events",
			"/streams/../events",
			"/streams/" + existing + "/./events",
			"/streams/" + existing + "/events%2f1",
			"/streams/" + existing + "/events/..%2f..%2f1",
			"/streams/" + existing + "/events/%2e%2e",
			"/streams/" + existing + "/events/1%2f2",
			"/streams/%00/events",
			"/streams/" + existing + "%00/events",
			"/%2e%2e/%2e%2e/etc/passwd",
			"//streams/" + existing + "/events",
		} {
			cases = append(cases,
				badRequest{name: "GET " + p, method: http.MethodGet, path: p, status: []int{400, 404}},
				badRequest{name: "POST " + p, path: p, body: valid, status: []int{400, 404, 405}})
		}
		// An encoded slash does not make a stream's events out of a stream.
		cases = append(cases,
			badRequest{name: "GET stream id with an encoded slash", method: http.MethodGet,
				path: "/streams/" + existing + "%2fevents", status: []int{400, 404}},
			badRequest{name: "POST stream id with an encoded slash",
				path: "/streams/" + existing + "%2fevents", body: valid, status: []int{400, 404, 405}})

		t.Run("cases", func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					method, path, statuses := tc.method, tc.path, tc.status
					if method == "" {
						method = http.MethodPost
					}
					if path == "" {
						path = "/streams/" + newID() + "/events"
					}
					if statuses == nil {
						statuses = []int{http.StatusBadRequest}
					}
					var body []byte
					if tc.body != "" || method == http.MethodPost {
						body = []byte(tc.body)
					}
					s := srv
					if tc.limited {
						s = limited
					}
					r := s.do(t, method, path, body, tc.header...)
					want := statuses[0]
					for _, s := range statuses {
						if r.Status == s {
							want = s
						}
					}
					p := checkProblem(t, r, want, tc.slug)
					if tc.hint != "" && !strings.Contains(strings.ToLower(p.Detail), strings.ToLower(tc.hint)) {
						t.Errorf("%s %s: expected a problem detail that mentions %q, got %q", method, path, tc.hint, p.Detail)
					}
					if tc.member != "" && !strings.Contains(p.Detail, tc.member) {
						t.Errorf("%s %s: expected a problem detail naming the member %q as sent, got %q", method, path, tc.member, p.Detail)
					}
					if tc.check != nil {
						tc.check(t, r)
					}
				})
			}
		})

		// Nothing of any refused request was written.
		if log := srv.readLog(t, "/events"); len(log) != 1 {
			t.Errorf("GET /events: expected only the setup event after the refused requests, got %d events", len(log))
		}
		r := srv.get(t, "/streams/"+existing)
		requireStatus(t, r, http.StatusOK)
		requireETag(t, r, 1)
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

// TestBadInputHTTPWhitespaceAroundTagsIsAccepted pins the other side of the
// If-Match cases: HTTP's own optional whitespace (spaces and tabs) around a
// tag or * is not part of the value.
func TestBadInputHTTPWhitespaceAroundTagsIsAccepted(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		const valid = `{"stream_type":"order","events":[{"type":"A","data":{}}]}`
		id := newID()
		srv.mustAppend(t, id, valid, "If-Match", "\t \"0\" \t")
		srv.mustAppend(t, newID(), valid, "If-None-Match", " *\t")
		res := srv.mustAppend(t, id, `{"events":[{"type":"A","data":{}}]}`, "If-Match", " * ")
		if res.Version != 2 {
			t.Errorf("append with If-Match: * to a stream at version 1: expected version 2, got %d", res.Version)
		}
	})
}

// TestBadInputLargestNumbersReadNothingAndEndThePaging reads from the
// largest version and after the largest position a parameter takes: the
// answer is an empty page without a next link (an overflowing "from + limit"
// would link to a page the server itself refuses), and backward from there
// is the whole stream.
func TestBadInputLargestNumbersReadNothingAndEndThePaging(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		id := newID()
		srv.mustAppend(t, id, appendBody{StreamType: "order", Events: events(2, "A")})
		const largest = "9223372036854775807"

		r := srv.get(t, "/events?after="+largest+"&limit=1000")
		requireStatus(t, r, http.StatusOK)
		var log logPage
		r.decode(t, &log)
		if next, more := nextLink(r.Header); len(log.Events) != 0 || more {
			t.Errorf("GET %s: expected no events and no next link, got next link %q and %s", r.path, next, r.Body)
		}
		for _, limit := range []string{"1", "1000"} {
			r = srv.get(t, "/streams/"+id+"/events?from="+largest+"&limit="+limit)
			requireStatus(t, r, http.StatusOK)
			var forward streamPage
			r.decode(t, &forward)
			if next, more := nextLink(r.Header); len(forward.Events) != 0 || more {
				t.Errorf("GET %s: expected no events and no next link (nothing follows the largest version), got next link %q and %s",
					r.path, next, r.Body)
			}
		}
		r = srv.get(t, "/streams/"+id+"/events?direction=backward&from="+largest+"&limit=1000")
		requireStatus(t, r, http.StatusOK)
		var page streamPage
		r.decode(t, &page)
		if len(page.Events) != 2 || page.Events[0].Version != 2 {
			t.Errorf("GET backward from the largest version: expected versions 2 and 1, got %d events: %s", len(page.Events), r.Body)
		}
	})
}

// TestBadInputStringsAndNumbersAreStoredVerbatim sends SQL-looking strings,
// escaped NULs, backslashes, LIKE wildcards and numbers no float holds, in
// data and metadata: each must be stored and read back byte for byte by
// every read, and the store must work as before afterwards.
func TestBadInputStringsAndNumbersAreStoredVerbatim(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		type value struct{ data, metadata string }
		values := []value{
			{`"'; DROP TABLE events; --"`, `{"correlation_id":"'; DROP TABLE events; --","causation_id":"\" OR 1=1 --"}`},
			{`"\" OR 1=1 --"`, ``},
			{`"' OR '1'='1"`, `{"q":"' OR '1'='1"}`},
			{`"'); DELETE FROM streams; --"`, ``},
			{`"\u0000"`, `{"nul":"\u0000"}`},
			{`"a\u0000b\u0000\u0000"`, `{"\u0000":"\\\\","%":"_"}`},
			{`"\\"`, `{"bs":"\\"}`},
			{`"\\\\"`, ``},
			{`"C:\\path\\to\\x00 \\0 \\n \\u0000 \\' \\\""`, `{"escapes":"\\x00 \\0 \\' \\%"}`},
			{`"%"`, `{"like":"%"}`},
			{`"_"`, `{"like":"_"}`},
			{`"%_%\\%\\_ LIKE '%'"`, `{"like":"%_%\\%\\_"}`},
			{`{"'; DROP TABLE events; --":"\" OR 1=1 --","%":"_","\u0000":"\\","nested":["\u0000","\\u0000","%00","\\x00"]}`, ``},
			{`1e400`, `{"n":1e400}`},
			{`123456789012345678901234567890`, `{"big":123456789012345678901234567890}`},
			{`-0`, `{"z":-0}`},
			{`-0.0`, ``},
			{`1E-400`, ``},
			{`-123456789012345678901234567890.123456789e-99999`, ``},
			{`{"n":1e400,"big":123456789012345678901234567890,"z":-0}`, `{"n":1e400,"big":123456789012345678901234567890,"z":-0}`},
			{`[1e400, -0, 123456789012345678901234567890]`, ``},
		}
		eventJSON := func(v value) string {
			e := `{"type":"Raw","data":` + v.data
			if v.metadata != "" {
				e += `,"metadata":` + v.metadata
			}
			return e + `}`
		}
		check := func(t *testing.T, where string, got []event, want []value) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s: expected %d events, got %d", where, len(want), len(got))
			}
			for i, e := range got {
				if !bytes.Equal(e.Data, []byte(want[i].data)) {
					t.Errorf("%s event %d: expected data bytes\n%q\ngot\n%q", where, i+1, want[i].data, e.Data)
				}
				if !bytes.Equal(e.Metadata, []byte(want[i].metadata)) {
					t.Errorf("%s event %d: expected metadata bytes\n%q\ngot\n%q", where, i+1, want[i].metadata, e.Metadata)
				}
			}
		}

		// All in one batch, and each alone in an append of its own.
		batch := newID()
		parts := make([]string, len(values))
		for i, v := range values {
			parts[i] = eventJSON(v)
		}
		srv.mustAppend(t, batch, `{"stream_type":"hostile","events":[`+strings.Join(parts, ",")+`]}`)
		single := newID()
		for i, v := range values {
			st := ""
			if i == 0 {
				st = `"stream_type":"hostile",`
			}
			srv.mustAppend(t, single, `{`+st+`"events":[`+eventJSON(v)+`]}`)
		}

		for _, id := range []string{batch, single} {
			r := srv.get(t, "/streams/"+id+"/events")
			requireStatus(t, r, http.StatusOK)
			var page streamPage
			r.decode(t, &page)
			check(t, "GET /streams/"+id+"/events", page.Events, values)
		}
		var one []event
		for v := range values {
			r := srv.get(t, fmt.Sprintf("/streams/%s/events/%d", batch, v+1))
			requireStatus(t, r, http.StatusOK)
			var e event
			r.decode(t, &e)
			one = append(one, e)
		}
		check(t, "GET /streams/{id}/events/{v}", one, values)
		check(t, "GET /events?stream_type=hostile", srv.readLog(t, "/events?stream_type=hostile&limit=7"), append(values[:len(values):len(values)], values...))

		// The tables still work: a new stream appends and reads as usual.
		after := newID()
		res := srv.mustAppend(t, after, appendBody{StreamType: "after", Events: events(2, "StillWorks")})
		if res.Version != 2 || len(res.Events) != 2 {
			t.Fatalf("append after the hostile data: expected version 2 with 2 events, got %+v", res)
		}
		if log := srv.readLog(t, "/events"); len(log) != 2*len(values)+2 {
			t.Errorf("GET /events: expected %d events, got %d", 2*len(values)+2, len(log))
		}
		r := srv.get(t, "/streams?limit=1000")
		requireStatus(t, r, http.StatusOK)
		var list streamList
		r.decode(t, &list)
		if len(list.Streams) != 3 {
			t.Errorf("GET /streams: expected the 3 streams written, got %d: %s", len(list.Streams), r.Body)
		}
	})
}

// TestBadInputWildcardsInFiltersMatchLiterally proves the name filters of
// /events and /streams compare names exactly: '_' (a valid name character
// and a LIKE wildcard) matches only itself, and case matters.
func TestBadInputWildcardsInFiltersMatchLiterally(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		for _, st := range []string{"a_c", "abc", "aXc"} {
			srv.mustAppend(t, newID(), appendBody{StreamType: st, Events: []newEvent{
				{Type: "T_1", Data: st}, {Type: "TX1", Data: st}, {Type: "Ta1", Data: st}}})
		}
		count := func(path string) int {
			t.Helper()
			return len(srv.readLog(t, path))
		}
		for path, want := range map[string]int{
			"/events?stream_type=a_c":          3,
			"/events?stream_type=A_C":          0,
			"/events?type=T_1":                 3,
			"/events?type=t_1":                 0,
			"/events?stream_type=a_c&type=T_1": 1,
		} {
			if got := count(path); got != want {
				t.Errorf("GET %s: expected %d events, got %d", path, want, got)
			}
		}
		r := srv.get(t, "/streams?stream_type=a_c")
		requireStatus(t, r, http.StatusOK)
		var list streamList
		r.decode(t, &list)
		if len(list.Streams) != 1 || list.Streams[0].StreamType != "a_c" {
			t.Errorf("GET /streams?stream_type=a_c: expected only the a_c stream, got %s", r.Body)
		}
	})
}

// TestBadInputNestedDeeplyIsRefusedAndTheServerStaysUp sends JSON nested a
// hundred thousand levels deep, as the body and inside data and metadata:
// each is a 400, and the server then still serves, and still stores data
// nested deeply within reason byte for byte.
func TestBadInputNestedDeeplyIsRefusedAndTheServerStaysUp(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		const depth = 100000
		arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		objects := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
		for name, body := range map[string]string{
			"body of unclosed arrays":    strings.Repeat("[", depth),
			"body of closed arrays":      arrays,
			"body of unclosed objects":   strings.Repeat(`{"a":`, depth),
			"data of nested arrays":      `{"stream_type":"deep","events":[{"type":"A","data":` + arrays + `}]}`,
			"data of nested objects":     `{"stream_type":"deep","events":[{"type":"A","data":` + objects + `}]}`,
			"metadata of nested objects": `{"stream_type":"deep","events":[{"type":"A","data":1,"metadata":` + objects + `}]}`,
		} {
			r := srv.post(t, "/streams/"+newID()+"/events", body)
			p := checkProblem(t, r, http.StatusBadRequest, "bad-request")
			if !strings.Contains(p.Detail, "JSON") {
				t.Errorf("%s: expected a problem detail about the JSON, got %q", name, p.Detail)
			}
		}

		for _, path := range []string{"/healthz", "/readyz"} {
			requireStatus(t, srv.get(t, path), http.StatusOK)
		}
		nested := strings.Repeat(`{"a":[`, 250) + "null" + strings.Repeat("]}", 250)
		id := newID()
		srv.mustAppend(t, id, `{"stream_type":"deep","events":[{"type":"A","data":`+nested+`,"metadata":{"m":`+nested+`}}]}`)
		r := srv.get(t, "/streams/"+id+"/events/1")
		requireStatus(t, r, http.StatusOK)
		var e event
		r.decode(t, &e)
		if string(e.Data) != nested || string(e.Metadata) != `{"m":`+nested+`}` {
			t.Errorf("GET /streams/%s/events/1: expected the data and metadata nested 500 deep byte for byte, got %d and %d bytes",
				id, len(e.Data), len(e.Metadata))
		}
		if log := srv.readLog(t, "/events"); len(log) != 1 {
			t.Errorf("GET /events: expected only the one event stored, got %d", len(log))
		}
	})
}

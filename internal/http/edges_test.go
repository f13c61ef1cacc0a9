package http_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPathWithATrailingSlashIsNotFoundOnEveryRoute: /streams/ and
// /streams/{id}/ answered 200 (chi's nested routes serve their "/" for both
// forms) where every other route's slash form was a 404, and openapi.yaml
// lists neither; OPTIONS took the slash form of every route for the route.
// Each is now a 404 problem, whatever the method.
func TestAPathWithATrailingSlashIsNotFoundOnEveryRoute(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	id := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1}]}`), 201)
	for _, path := range []string{
		"/healthz/", "/readyz/", "/openapi.yaml/", "/events/",
		"/streams/", "/streams/" + id + "/", "/streams/" + id + "/events/", "/streams/" + id + "/events/1/",
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions} {
			r := s.do(method, path, "")
			if r.status != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404 as for every path a route does not serve\n%s", method, path, r.status, r.body)
				continue
			}
			if method == http.MethodHead {
				continue // no body
			}
			if p := r.json(t); p["type"] != esthttp.ProblemBase+"not-found" {
				t.Errorf("%s %s: type %v, want %snot-found", method, path, p["type"], esthttp.ProblemBase)
			}
		}
	}
	// The forms without the slash still serve.
	for _, path := range []string{"/streams", "/streams/" + id, "/streams/" + id + "/events", "/streams/" + id + "/events/1"} {
		expectStatus(t, "GET "+path, s.do("GET", path, ""), 200)
		if r := s.do("OPTIONS", path, ""); r.status != http.StatusNoContent || r.header.Get("Allow") == "" {
			t.Errorf("OPTIONS %s: %d Allow=%q, want 204 with Allow", path, r.status, r.header.Get("Allow"))
		}
	}
}

// TestANotFoundQuotesThePathAsSent: a 404's detail quoted the path
// decoded, so GET /%66oo was answered "no such resource: /foo" (a tester
// took /%65vents for a route the server refused). It quotes the path
// encoded.
func TestANotFoundQuotesThePathAsSent(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := s.do(method, "/no%2Fsuch", "")
		expectStatus(t, method+" /no%2Fsuch", r, http.StatusNotFound)
		if p := r.json(t); !strings.Contains(fmt.Sprint(p["detail"]), "/no%2Fsuch") {
			t.Errorf("%s /no%%2Fsuch: detail %q; want it to quote the path encoded", method, p["detail"])
		}
	}
}

// TestAPathWithUnreservedCharactersPercentEncodedIsTheSamePath: RFC 3986
// (6.2.2.2) makes a path with a letter, digit, '-', '.', '_' or '~'
// percent-encoded the same as one with it written out, but routes were
// matched on the path as sent: GET /%65vents and a stream id with an
// encoded digit were 404 and 400 (a black-box review found them). An
// encoded slash still stays inside its segment.
func TestAPathWithUnreservedCharactersPercentEncodedIsTheSamePath(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	stream := uuid.New().String()
	expectStatus(t, "append", s.do("POST", "/streams/"+stream+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), http.StatusCreated)
	encoded := fmt.Sprintf("%%%X", stream[0]) + stream[1:] // its first character percent-encoded
	for _, path := range []string{
		"/%65vents", "/%65%76%65%6E%74%73", "/%65vents?limit=1",
		"/streams/" + encoded, "/streams/" + encoded + "/%65vents", "/streams/" + strings.ToUpper(stream) + "/events",
		"/%68ealthz", "/streams/" + stream + "/events/%31",
	} {
		if r := s.do("GET", path, ""); r.status != http.StatusOK {
			t.Errorf("GET %s: %d %s; want 200, as its path written out", path, r.status, r.body)
		}
	}
	for _, path := range []string{"/streams%2F" + stream, "/streams/" + stream + "%2Fevents", "/%65vents%2F"} {
		if r := s.do("GET", path, ""); r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s; want 404 or 400: an encoded slash is not a slash", path, r.status, r.body)
		}
	}
}

// TestAConnectionIsClosedAtOnceAfterA408: an append whose body stopped
// arriving is answered 408 with Connection: close at its deadline, but the
// connection stayed open writeGrace (5 s) longer: the read deadline was moved
// past the request's after the read had failed on it, and net/http, which
// reads what is left of a body before it closes, waited until then on a
// client that sends nothing. A client that reads to EOF, and every slow
// uploader's socket and goroutine, waited with it.
func TestAConnectionIsClosedAtOnceAfterA408(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const timeout = 300 * time.Millisecond
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{RequestTimeout: timeout}))
		t.Cleanup(srv.Close)
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		const sent = `{"stream_type":"order","events":[{"type":"A"`
		fmt.Fprintf(c, "POST /streams/%s/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n%s", uuid.New(), sent)
		c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a test's bound
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("a body that stopped arriving: %v; want a 408", err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // only its end matters
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
			t.Fatalf("a body that stopped arriving: %d (closing: %t); want 408 with Connection: close", resp.StatusCode, resp.Close)
		}
		answered := time.Now()
		if n, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after the 408: read %q, %v; want EOF", n, err)
		}
		if took := time.Since(answered); took > time.Second {
			t.Fatalf("the connection closed %s after the 408 that said Connection: close; want at once", took.Round(time.Millisecond))
		}
	})
}

// TestANumberWithLeadingZerosIsRefusedEverywhere: If-Match refused "01"
// (an entity tag compares as a string: "01" never equals the "1" the server
// sends), but every other number took it: a path's version (so that
// /streams/x/events/007 was a second URL for version 7), from, after,
// limit, on reads and subscriptions, and Tributary-Min-Position. Versions
// and positions are written one way, as the server writes them; a number
// with leading zeros is now a 400 that says so wherever it is given, and 0
// itself is still taken.
func TestANumberWithLeadingZerosIsRefusedEverywhere(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	id := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"a","events":[{"type":"X","data":1},{"type":"X","data":2}]}`), 201)
	sse := []string{"Accept", "text/event-stream"}
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
	}{
		{"a path's version", "GET", "/streams/" + id + "/events/01", "", nil},
		{"a path's version", "GET", "/streams/" + id + "/events/007", "", nil},
		{"from on a read", "GET", "/streams/" + id + "/events?from=01", "", nil},
		{"limit on a read", "GET", "/streams/" + id + "/events?limit=010", "", nil},
		{"after on the log", "GET", "/events?after=00", "", nil},
		{"after on the log", "GET", "/events?after=01", "", nil},
		{"limit on the log", "GET", "/events?limit=01", "", nil},
		{"limit on the streams", "GET", "/streams?limit=01", "", nil},
		{"from on a subscription", "GET", "/streams/" + id + "/events?from=01", "", sse},
		{"after on a subscription", "GET", "/events?after=01", "", sse},
		{"Last-Event-ID on the log", "GET", "/events", "", append(sse, "Last-Event-ID", "01")},
		{"Last-Event-ID on a stream", "GET", "/streams/" + id + "/events", "", append(sse, "Last-Event-ID", "007")},
		{"Tributary-Min-Position", "GET", "/events", "", []string{esthttp.MinPositionHeader, "05"}},
		{"Tributary-Min-Position", "GET", "/streams/" + id, "", []string{esthttp.MinPositionHeader, "00"}},
		{"If-Match on an append", "POST", "/streams/" + id + "/events", `{"events":[{"type":"X","data":3}]}`, []string{"If-Match", `"02"`}},
	} {
		r := s.do(tc.method, tc.path, tc.body, tc.header...)
		what := fmt.Sprintf("%s: %s %s %q", tc.name, tc.method, tc.path, tc.header)
		expectStatus(t, what, r, http.StatusBadRequest)
		if p := r.json(t); !strings.Contains(fmt.Sprint(p["detail"]), "leading zeros") {
			t.Errorf("%s: detail %q; want it to say that leading zeros are not taken", what, p["detail"])
		}
	}
	// Zero itself, and numbers written as the server writes them, are taken.
	for _, tc := range []struct {
		path   string
		header []string
	}{
		{"/streams/" + id + "/events/2", nil},
		{"/streams/" + id + "/events?from=1&limit=10", nil},
		{"/events?after=0&limit=10", nil},
		{"/events", []string{esthttp.MinPositionHeader, "0"}},
		{"/streams/" + id, []string{esthttp.MinPositionHeader, "2"}},
	} {
		expectStatus(t, fmt.Sprintf("GET %s %q", tc.path, tc.header), s.do("GET", tc.path, "", tc.header...), http.StatusOK)
	}
}

// TestAHeadersProblemQuotesWhatWasSentAndSaysWhatIsWrong: a black-box
// review found a Tributary-Min-Position of "-1" quoted as a list (got
// ["-1"]) where every other detail quotes the value, and an If-Match of
// "" (quotes around nothing) told to put the tag in double quotes, which
// it was.
func TestAHeadersProblemQuotesWhatWasSentAndSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	r := s.do("GET", "/events", "", esthttp.MinPositionHeader, "-1")
	expectStatus(t, "Tributary-Min-Position: -1", r, http.StatusBadRequest)
	if d := fmt.Sprint(r.json(t)["detail"]); !strings.Contains(d, `got "-1"`) {
		t.Errorf("Tributary-Min-Position: -1: detail %q; want it to quote the value as sent, got \"-1\"", d)
	}
	stream := uuid.NewString()
	r = s.do("POST", "/streams/"+stream+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`, "If-Match", `""`)
	expectStatus(t, `If-Match: ""`, r, http.StatusBadRequest)
	if d := fmt.Sprint(r.json(t)["detail"]); strings.Contains(d, "double quotes") || !strings.Contains(d, "empty") {
		t.Errorf(`If-Match: "": detail %q; want it to say the tag is empty`, d)
	}
}

// TestAProblemQuotesAtMostAKiBOfAMethodOrPath: a 405 quoted the request's
// method whole, and a 404 its path: a method of 100,000 characters came
// back as a 100 KB answer (a second black-box tester). A path is cut at
// 1 KiB, marked with its length, as in the log; a method HTTP does not
// define is not quoted at all, only its length.
func TestAProblemQuotesAtMostAKiBOfAMethodOrPath(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	for name, c := range map[string]struct {
		r    response
		mark string
	}{
		"a long method": {s.do(strings.Repeat("M", 100_000), "/events", ""), "100000 bytes"},
		"a long path":   {s.do("GET", "/"+strings.Repeat("p", 100_000), ""), "bytes in all"},
	} {
		if r := c.r; r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound || len(r.body) > 4<<10 || !strings.Contains(string(r.body), c.mark) {
			t.Errorf("%s: %d with %d bytes of body: %.200s; want a 405 or 404 of at most 4 KiB, saying %q", name, r.status, len(r.body), r.body, c.mark)
		}
	}
}

// TestAProblemQuotesAtMostAKiBOfAnyPartOfTheRequest: the siblings of the
// cut 404 and 405. A 400 or 415 quoted what it refused whole: a query
// parameter's name or value, a version in the path, Last-Event-ID,
// Tributary-Min-Position, If-Match, Content-Type or Content-Encoding of
// 100,000 characters each came back in a 100 KB answer. Each is cut at 1
// KiB, marked with its length, as the 404's path is.
func TestAProblemQuotesAtMostAKiBOfAnyPartOfTheRequest(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	long := strings.Repeat("a", 100_000)
	id := uuid.NewString()
	events := "/streams/" + id + "/events"
	appendBody := `{"stream_type":"a","events":[{"type":"X","data":1}]}`
	stored := uuid.NewString()
	expectStatus(t, "append", s.do("POST", "/streams/"+stored+"/events", appendBody), http.StatusCreated)
	for _, tc := range []struct {
		what, method, path, body string
		header                   []string
	}{
		{"a long value", "GET", "/events?after=" + long, "", nil},
		{"a long parameter name", "GET", "/events?" + long + "=1", "", nil},
		{"a long cursor", "GET", "/streams?after=" + long, "", nil},
		{"a long version", "GET", events + "/" + long, "", nil},
		{"a long version and a parameter", "GET", events + "/" + long + "?x=1", "", nil},
		{"a long Last-Event-ID", "GET", "/events", "", []string{"Accept", "text/event-stream", "Last-Event-ID", long}},
		{"a long Tributary-Min-Position", "GET", "/events", "", []string{esthttp.MinPositionHeader, long}},
		{"a long If-Match", "POST", events, appendBody, []string{"If-Match", `"` + long + `"`}},
		{"a long Content-Type", "POST", events, appendBody, []string{"Content-Type", "application/" + long}},
		{"a long Content-Encoding", "POST", events, appendBody, []string{"Content-Encoding", long}},
		{"a long If-Match on a read (412)", "GET", "/streams/" + stored, "", []string{"If-Match", `"` + long + `"`}},
		{"a long If-Match on the log (412)", "GET", "/events", "", []string{"If-Match", `"` + long + `"`}},
	} {
		r := s.do(tc.method, tc.path, tc.body, tc.header...)
		if r.status/100 != 4 || len(r.body) > 4<<10 || !strings.Contains(string(r.body), "bytes in all") {
			t.Errorf("%s: %d with %d bytes of body; want a 4xx of at most 4 KiB, marking the cut: %.300s", tc.what, r.status, len(r.body), r.body)
		}
	}
	// Many short Last-Event-IDs, which the 400 lists.
	req, _ := http.NewRequest("GET", s.url+"/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	for range 2000 {
		req.Header.Add("Last-Event-ID", strings.Repeat("9", 200))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || len(b) > 4<<10 || !strings.Contains(string(b), "bytes in all") {
		t.Errorf("2,000 Last-Event-IDs: %d with %d bytes of body; want a 400 of at most 4 KiB, marking the cut: %.300s", resp.StatusCode, len(b), b)
	}
}

// TestAnHTTP2PrefaceIsAnswered505: net/http hands "PRI * HTTP/2.0" (a
// client speaking HTTP/2 with prior knowledge to an HTTP/1 server) to the
// handler, for one that takes the connection over, and the routes
// answered it 405; the README says a request line of another version than
// 1.x is 505, as net/http answers HTTP/2.0 with any other method.
func TestAnHTTP2PrefaceIsAnswered505(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.SQLite.Open(t))
	for _, preface := range []string{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "GET / HTTP/2.0\r\nHost: test\r\n\r\n"} {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), 2*time.Second)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
		if _, err := io.WriteString(c, preface); err != nil {
			t.Fatalf("send %q: %v", preface, err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		if !strings.HasPrefix(string(b), "HTTP/1.1 505 ") || !strings.Contains(string(b), "Connection: close") {
			t.Errorf("%q: answered %q; expected a 505 and Connection: close", preface, b)
		}
	}
}

package tests

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// The edges a new user and an attacker found (issue 10): tokens in logs,
// request ids, query parameters, resume points, strict JSON, headers, CORS.

// TestNoTokenReachesTheLogHoweverItIsSpelled sends tokens, valid or not, in
// every spelling of the token parameter a client or an attacker might use
// (percent-encoded names, other cases, typos, repeats, bare, inside a
// malformed pair) and in the Authorization header, then searches the whole
// output of the server for each secret.
func TestNoTokenReachesTheLogHoweverItIsSpelled(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const reader, other = "log-reader-secret-0001", "log-other-secret-0002"
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_API_TOKENS=dashboard:read:"+reader+",other:read:"+other)...)
		id := newID()
		secrets := []string{reader, other}
		secret := func() string {
			s := fmt.Sprintf("log-test-secret-%04d", len(secrets)+1)
			secrets = append(secrets, s)
			return s
		}
		requireStatus(t, srv.get(t, "/events?access_token="+reader), http.StatusOK)
		requireStatus(t, srv.get(t, "/events?access%5Ftoken="+other), http.StatusOK)
		// A token sent two ways is a 400 (RFC 6750 §2), and neither is logged.
		requireStatus(t, srv.get(t, "/events?access_token="+secret(), "Authorization", "Bearer "+reader), http.StatusBadRequest)
		for _, path := range []string{
			"/events?Access_Token=" + secret(),
			"/events?ACCESS_TOKEN=" + secret(),
			"/events?access-token=" + secret(),
			"/events?accessToken=" + secret(),
			"/events?token=" + secret(),
			"/events?apikey=" + secret(),
			"/events?access_token=" + secret() + "&access_token=" + secret(),
			"/events?" + secret(),
			"/events?after=0;access_token=" + secret(),
			"/events?%61ccess_token=" + secret(),
			"/events?access_token=" + secret() + "%zz",
			"/events?k%3D" + secret() + "=x",
			"/events?limit=1&%41ccess%5FToken=" + secret(),
			"/streams/" + id + "/events?ACCESS%5FTOKEN=" + secret(),
			"/nope?access_token=" + secret(),
			"/healthz?access_token=" + secret(),
		} {
			r := srv.get(t, path)
			if r.Status < 400 && !strings.HasPrefix(path, "/healthz") {
				t.Errorf("GET %s: expected a 4xx without a valid token, got %d", path, r.Status)
			}
		}
		srv.get(t, "/events", "Authorization", "Bearer "+secret())
		srv.get(t, "/events", "Authorization", secret())
		srv.get(t, "/streams/"+id+"/events?Access_Token="+secret(), "Accept", "text/event-stream")

		srv.terminate() // every line is written once the process has exited
		out := srv.output(8 << 20)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("the server's output contains the secret %q", s)
			}
		}
		if t.Failed() {
			t.Logf("the server's output:\n%s", out)
		}
		if !strings.Contains(out, `"token":"dashboard"`) || !strings.Contains(out, `"token":"other"`) || !strings.Contains(out, "access_token=REDACTED") {
			t.Errorf("expected the access log to name both token holders and show access_token=REDACTED; got:\n%s", out)
		}
	})
}

// TestRequestIDsAreOnlyTakenFromTheClientWhenShortAndPrintable sends
// X-Request-Id values that would forge or break log lines: each is replaced
// by a fresh id, a plain one is kept, and the log holds the id the response
// carries.
func TestRequestIDsAreOnlyTakenFromTheClientWhenShortAndPrintable(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		idPattern := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
		for _, tc := range []struct {
			name, id string
			kept     bool
		}{
			{"plain", "req-42.a_B", true},
			{"64 characters", strings.Repeat("a", 64), true},
			{"65 characters", strings.Repeat("b", 65), false},
			{"a space", "req 42", false},
			{"a quote and a brace", `x","status":200,"y":{`, false},
			{"a slash", "a/b", false},
			{"non-ASCII", "réq", false},
			{"a tab", "a\tb", false},
			{"a kilobyte", strings.Repeat("c", 1024), false},
		} {
			// The page: a /healthz that passes is logged at DEBUG only.
			r := srv.get(t, "/", "X-Request-Id", tc.id)
			got := r.Header.Get("X-Request-Id")
			switch {
			case tc.kept && got != tc.id:
				t.Errorf("%s: X-Request-Id %q came back as %q, expected it kept", tc.name, tc.id, got)
			case !tc.kept && (got == tc.id || strings.Contains(got, tc.id)):
				t.Errorf("%s: X-Request-Id %q was kept, expected a fresh id", tc.name, tc.id)
			case !idPattern.MatchString(got):
				t.Errorf("%s: the response's X-Request-Id %q is not short and printable", tc.name, got)
			}
			if !waitLogLine(srv, func(l map[string]any) bool { return l["msg"] == "request" && l["request_id"] == got }) {
				t.Errorf("%s: no access log line with request_id %q", tc.name, got)
			}
		}
		for _, l := range srv.logLines() {
			if rid, _ := l["request_id"].(string); !idPattern.MatchString(rid) && rid != "" {
				t.Errorf("the log holds a request id that is not short and printable: %q", rid)
			}
		}
	})
}

// waitLogLine waits a few seconds for a log line that match accepts: the
// access log is written just after the response.
func waitLogLine(srv *server, match func(map[string]any) bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, l := range srv.logLines() {
			if match(l) {
				return true
			}
		}
	}
	return false
}

// TestQueryParametersAreStrictAndFiltersAreCapped requires a 400 problem
// naming the parameter for an unknown, repeated or empty query parameter on
// every endpoint, pages and subscriptions alike, so that a typo never widens
// a filter to the whole log; and caps filters at 100 names (and 13000
// characters, room for 100 names of 128: only padding can pass it), which
// the SQLite store once answered with a 500 (and a subscription with a
// hang).
func TestQueryParametersAreStrictAndFiltersAreCapped(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		id := newID()
		srv.mustAppend(t, id, appendBody{StreamType: "order", Events: events(2, "OrderPlaced")})
		names := func(n int) string {
			var b strings.Builder
			for i := range n {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "T%d", i)
			}
			return b.String()
		}
		stream, one := "/streams/"+id+"/events", "/streams/"+id+"/events/1"
		for _, tc := range []struct {
			path, hint string
			subscribe  bool
		}{
			{"/events?stream-type=order", "stream-type", true},
			{"/events?types=A", "types", true},
			{"/events?Type=A", "Type", true},
			{"/events?type=A&type=B", "type", true},
			{"/events?stream_type=order&stream_type=invoice", "stream_type", true},
			{"/events?after=1&after=2", "after", true},
			{"/events?type=", "type", true},
			{"/events?stream_type=", "stream_type", true},
			{"/events?after=", "after", true},
			{"/events?limit=", "limit", false},
			{"/events?type", "type", true},
			{"/events?type=" + names(101), "100", true},
			{"/events?stream_type=" + names(1000), "100", true},
			{"/events?type=A" + strings.Repeat("b", 127) + strings.Repeat(",%20%20%20A"+strings.Repeat("b", 127), 99), "13000", true},
			{stream + "?frm=2", "frm", true},
			{stream + "?from=1&from=2", "from", true},
			{stream + "?from=", "from", true},
			{stream + "?direction=", "direction", false},
			{stream + "?type=A", "type", true},
			{"/streams?stream-type=order", "stream-type", false},
			{"/streams?stream_type=" + names(101), "100", false},
			{"/streams?limit=", "limit", false},
			{"/streams?after=", "after", false},
			{"/streams/" + id + "?x=1", "x", false},
			{one + "?from=1", "from", false},
		} {
			requireProblemMentioning(t, srv.get(t, tc.path), http.StatusBadRequest, tc.hint)
			if tc.subscribe {
				requireProblemMentioning(t, subscribeRequest(t, srv, tc.path), http.StatusBadRequest, tc.hint)
			}
		}
		requireProblemMentioning(t, srv.post(t, stream+"?stream_type=order", appendBody{Events: events(1, "A")}), http.StatusBadRequest, "stream_type")

		// At the caps the filters work, on pages and subscriptions.
		if got := srv.readLog(t, "/events?type="+names(99)+",OrderPlaced&stream_type="+names(99)+",order"); len(got) != 2 {
			t.Errorf("GET /events with 100 names in each filter: expected the 2 events, got %d", len(got))
		}
		requireStatus(t, srv.get(t, "/streams?stream_type="+names(100)), http.StatusOK)
		c := subscribe(t, srv, "/events?type="+names(99)+",OrderPlaced")
		c.requireRetry(t)
		c.requireEvents(t, false, 1, 2)
		c.requireCaughtUp(t, 2)
	})
}

// requireProblemMentioning requires a problem with status whose detail
// mentions hint.
func requireProblemMentioning(t *testing.T, r *response, status int, hint string) {
	t.Helper()
	p := checkProblem(t, r, status, "")
	if !strings.Contains(p.Detail, hint) {
		t.Errorf("%s %s: expected a problem detail mentioning %q, got %q", r.method, r.path, hint, p.Detail)
	}
}

// TestSubscriptionFromAPointNeverReachedIsA409SayingWhereTheLogIs subscribes
// from ids the server has never reached (a stream version past the stream's,
// a position past the log's head, the largest id there is), as a client
// carrying ids from another or a restored database would: each is a 409
// problem with both numbers, never a silent skip. The last id reached is
// fine, and plain reads past the end are empty pages (nothing is lost).
func TestSubscriptionFromAPointNeverReachedIsA409SayingWhereTheLogIs(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		id, empty := newID(), newID()
		srv.mustAppend(t, id, appendBody{StreamType: "order", Events: events(3, "OrderPlaced")})
		const largest = "9223372036854775807"
		stream, none := "/streams/"+id+"/events", "/streams/"+empty+"/events"
		for _, tc := range []struct {
			path, lastID       string
			requested, current int64
		}{
			{none, "5", 5, 0},
			{none + "?from=6", "", 6, 0},
			{none + "?from=2", "", 2, 0},
			{stream, "4", 4, 3},
			{stream + "?from=5", "", 5, 3},
			{stream, largest, 1<<63 - 1, 3},
			{stream + "?from=" + largest, "", 1<<63 - 1, 3},
			{"/events", "42", 42, 3},
			{"/events?after=4", "", 4, 3},
			{"/events?stream_type=order", "4", 4, 3},
			{"/events", largest, 1<<63 - 1, 3},
		} {
			var header []string
			if tc.lastID != "" {
				header = []string{"Last-Event-ID", tc.lastID}
			}
			r := subscribeRequest(t, srv, tc.path, header...)
			p := checkProblem(t, r, http.StatusConflict, "starting-point-ahead")
			if p.Requested == nil || *p.Requested != tc.requested || p.Current == nil || *p.Current != tc.current {
				t.Errorf("%s with Last-Event-ID %q: expected requested %d and current %d in the problem, got %s",
					r.path, tc.lastID, tc.requested, tc.current, r.Body)
			}
			for _, n := range []string{fmt.Sprint(tc.requested), fmt.Sprint(tc.current)} {
				if !strings.Contains(p.Detail, n) {
					t.Errorf("%s with Last-Event-ID %q: expected the detail to say %s, got %q", r.path, tc.lastID, n, p.Detail)
				}
			}
		}

		// The points reached: the end of a stream, of the log, and the start
		// of a stream that does not exist yet.
		for _, tc := range []struct {
			path, lastID string
			stream       bool
			caughtUp     int64
		}{
			{stream, "3", true, 3},
			{stream + "?from=4", "", true, 3},
			{none + "?from=1", "", true, 0},
			{none, "0", true, 0},
			{"/events", "3", false, 3},
			{"/events?after=3", "", false, 3},
		} {
			var header []string
			if tc.lastID != "" {
				header = []string{"Last-Event-ID", tc.lastID}
			}
			c := subscribe(t, srv, tc.path, header...)
			c.requireRetry(t)
			c.requireCaughtUp(t, tc.caughtUp)
			c.Close()
		}

		// Pages past the end are empty: nothing is skipped by reading them.
		for _, path := range []string{"/events?after=42", stream + "?from=99", "/events?after=" + largest} {
			r := srv.get(t, path)
			requireStatus(t, r, http.StatusOK)
			if strings.Contains(string(r.Body), `"id"`) {
				t.Errorf("GET %s: expected an empty page, got %s", path, r.Body)
			}
		}
	})
}

// gzipped compresses s.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestContentEncodingIsGzipOrIdentityAndLimitsApplyToTheDecompressedBody
// appends gzip bodies (stored as if sent plain; x-gzip is gzip, as RFC 9110
// §8.4.1.3 asks of a recipient), holds a gzip bomb to the
// body limit by its decompressed size (413), and refuses encodings the
// server does not decode (415) and corrupt gzip (400), writing nothing.
func TestContentEncodingIsGzipOrIdentityAndLimitsApplyToTheDecompressedBody(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, srv *server) {
		const body = `{"stream_type":"order","events":[{"type":"A","data":{"total":10}}]}`
		id := newID()
		requireStatus(t, srv.post(t, "/streams/"+id+"/events", gzipped(t, body), "Content-Encoding", "gzip"), http.StatusCreated)
		requireStatus(t, srv.post(t, "/streams/"+id+"/events", body, "Content-Encoding", "identity"), http.StatusCreated)
		r := srv.get(t, "/streams/"+id+"/events/1")
		requireStatus(t, r, http.StatusOK)
		var e event
		r.decode(t, &e)
		if string(e.Data) != `{"total":10}` {
			t.Errorf("a gzip append stored data %s, expected {\"total\":10}", e.Data)
		}
		for i, enc := range []string{"x-gzip", "X-GZip"} {
			requireStatus(t, srv.post(t, "/streams/"+id+"/events", gzipped(t, body), "Content-Encoding", enc), http.StatusCreated)
			r := srv.get(t, fmt.Sprintf("/streams/%s/events/%d", id, 3+i))
			requireStatus(t, r, http.StatusOK)
			var e event
			r.decode(t, &e)
			if string(e.Data) != `{"total":10}` {
				t.Errorf("a Content-Encoding: %s append stored data %s, expected {\"total\":10} (x-gzip is gzip)", enc, e.Data)
			}
		}

		// 1 MiB of spaces inside the JSON: 1 KiB compressed, over the limit decompressed.
		bomb := gzipped(t, `{"stream_type":"order",`+strings.Repeat(" ", 1<<20)+`"events":[{"type":"A","data":1}]}`)
		if len(bomb) > 4096 {
			t.Fatalf("the gzip bomb is %d bytes compressed; expected it under the 4096-byte limit", len(bomb))
		}
		fresh := func() string { return "/streams/" + newID() + "/events" }
		requireProblemMentioning(t, srv.post(t, fresh(), bomb, "Content-Encoding", "gzip"), http.StatusRequestEntityTooLarge, "4096")
		for _, enc := range []string{"br", "deflate", "compress", "zstd", "gzip, gzip", "x-unknown"} {
			requireProblemMentioning(t, srv.post(t, fresh(), gzipped(t, body), "Content-Encoding", enc), http.StatusUnsupportedMediaType, "Content-Encoding")
		}
		requireProblemMentioning(t, srv.post(t, fresh(), body, "Content-Encoding", "gzip"), http.StatusBadRequest, "gzip")
		corrupt := gzipped(t, body)
		corrupt[len(corrupt)/2] ^= 0xff
		checkProblem(t, srv.post(t, fresh(), corrupt, "Content-Encoding", "gzip"), http.StatusBadRequest, "bad-request")
		requireProblemMentioning(t, srv.post(t, fresh(), []byte{}, "Content-Encoding", "gzip"), http.StatusBadRequest, "empty")
		// A gzip body cut short, with its checksum broken, or followed by
		// something else: each a problem that says gzip (a hostile review
		// found 'jsontext: read error: unexpected EOF', or 'must hold one
		// JSON object and nothing after it').
		whole := gzipped(t, body)
		requireProblemMentioning(t, srv.post(t, fresh(), whole[:len(whole)-4], "Content-Encoding", "gzip"), http.StatusBadRequest, "gzip")
		requireProblemMentioning(t, srv.post(t, fresh(), whole[:len(whole)/2], "Content-Encoding", "gzip"), http.StatusBadRequest, "gzip")
		badSum := slices.Clone(whole)
		badSum[len(badSum)-6] ^= 0xff
		requireProblemMentioning(t, srv.post(t, fresh(), badSum, "Content-Encoding", "gzip"), http.StatusBadRequest, "gzip")
		requireProblemMentioning(t, srv.post(t, fresh(), append(slices.Clone(whole), "garbage"...), "Content-Encoding", "gzip"), http.StatusBadRequest, "gzip")
		// Cut inside its 10-byte header: gzip.NewReader's unexpected EOF,
		// which gzipBody never sees (a review found 'invalid body:
		// unexpected EOF').
		requireProblemMentioning(t, srv.post(t, fresh(), whole[:5], "Content-Encoding", "gzip"), http.StatusBadRequest, "gzip")

		// Transfer-Encoding oddities, on a raw connection: each ends at once,
		// writing nothing, in a problem+json: a 4xx where the handler sees
		// the request, a 501 not-implemented where net/http refuses it
		// before any handler runs (its plain-text answer is written as a
		// problem by the connection: trackedConn.Write).
		for _, tc := range []struct {
			name, raw string
			netHTTP   bool // refused by net/http itself
		}{
			{"a malformed chunk", "POST " + fresh() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", false},
			{"a chunk longer than said", "POST " + fresh() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}}\r\n0\r\n\r\n", false},
			{"gzip transfer", "POST " + fresh() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", true},
			// Both lengths, with a whole body in the chunks: net/http takes
			// it by its chunks; the server refuses it (request smuggling).
			{"both lengths", "POST " + fresh() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body), false},
			{"chunked folded, and a length", "POST " + fresh() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body), false},
			{"chunked twice", "POST " + fresh() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", true},
			{"identity transfer", "POST " + fresh() + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: identity\r\n\r\n", true},
		} {
			status, ctype, b := rawExchange(t, srv, tc.raw)
			switch {
			case tc.netHTTP && status != http.StatusNotImplemented:
				t.Errorf("%s: expected a 501, got %d %q %s", tc.name, status, ctype, b)
			case !tc.netHTTP && (status < 400 || status >= 500):
				t.Errorf("%s: expected a 4xx, got %d %q %s", tc.name, status, ctype, b)
			case ctype != "application/problem+json":
				t.Errorf("%s: expected a problem+json answer, got %d %q %s", tc.name, status, ctype, b)
			}
		}
		if log := srv.readLog(t, "/events"); len(log) != 4 {
			t.Errorf("expected only the 4 good appends in the log, got %d events", len(log))
		}
	}, "TRIBUTARY_MAX_BODY_BYTES=4096")
}

// rawExchange writes raw on a new connection and reads one response.
func rawExchange(t *testing.T, srv *server, raw string) (status int, contentType string, body []byte) {
	t.Helper()
	c := faultDial(t, srv)
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read the answer to %q: %v", raw, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

// TestBrowsersOnAllowedOriginsMayAppendReadAndSubscribe plays a page served
// from another origin: with TRIBUTARY_CORS_ORIGINS, a preflight needs no
// token and allows the API's methods and headers, answers carry
// Access-Control-Allow-Origin and expose ETag, Location and Link, and a
// subscription works with ?access_token=. Other origins, and a server
// without the setting, get no CORS headers; a bad origin stops start-up.
func TestBrowsersOnAllowedOriginsMayAppendReadAndSubscribe(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		const app, evil, secret = "https://app.example", "https://evil.example", "cors-write-secret-0001"
		srv := startServer(t, append(k.ServerEnv, "TRIBUTARY_CORS_ORIGINS=https://other.example, "+app,
			"TRIBUTARY_API_TOKENS=app:write:"+secret)...)
		id := newID()
		stream := "/streams/" + id + "/events"
		headerHas := func(r *response, name string, want ...string) {
			t.Helper()
			got := strings.ToLower(strings.Join(r.Header.Values(name), ","))
			for _, w := range want {
				if !strings.Contains(got, strings.ToLower(w)) {
					t.Errorf("%s %s: expected %s to hold %s, got %q", r.method, r.path, name, w, got)
				}
			}
		}

		pre := srv.do(t, http.MethodOptions, stream, nil, "Origin", app, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, content-type, if-match, content-encoding")
		if pre.Status/100 != 2 {
			t.Errorf("preflight from %s: expected a 2xx without a token, got %d %s", app, pre.Status, pre.Body)
		}
		headerHas(pre, "Access-Control-Allow-Origin", app)
		headerHas(pre, "Access-Control-Allow-Methods", "POST")
		headerHas(pre, "Access-Control-Allow-Headers", "authorization", "content-type", "if-match", "content-encoding")

		r := srv.post(t, stream, appendBody{StreamType: "order", Events: events(1, "A")}, "Origin", app, "Authorization", "Bearer "+secret)
		requireStatus(t, r, http.StatusCreated)
		headerHas(r, "Access-Control-Allow-Origin", app)
		headerHas(r, "Access-Control-Expose-Headers", "ETag", "Location", "Link")

		c := subscribe(t, srv, stream+"?access_token="+secret, "Origin", app)
		if got := c.header.Get("Access-Control-Allow-Origin"); got != app {
			t.Errorf("subscription from %s: expected Access-Control-Allow-Origin %s, got %q", app, app, got)
		}
		c.requireRetry(t)
		c.requireEvents(t, true, 1)
		c.Close()

		for _, r := range []*response{
			srv.get(t, stream, "Origin", evil, "Authorization", "Bearer "+secret),
			srv.do(t, http.MethodOptions, stream, nil, "Origin", evil, "Access-Control-Request-Method", "POST"),
		} {
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s %s from %s: expected no Access-Control-Allow-Origin, got %q", r.method, r.path, evil, got)
			}
		}

		plain := startServer(t, k.ServerEnv...)
		for _, r := range []*response{
			plain.get(t, "/events", "Origin", app),
			plain.do(t, http.MethodOptions, "/events", nil, "Origin", app, "Access-Control-Request-Method", "GET"),
		} {
			if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("%s %s on a server without TRIBUTARY_CORS_ORIGINS: expected no CORS headers, got Access-Control-Allow-Origin %q", r.method, r.path, got)
			}
		}
		star := startServer(t, append(k.ServerEnv, "TRIBUTARY_CORS_ORIGINS=*")...)
		if got := star.get(t, "/events", "Origin", evil).Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET /events with TRIBUTARY_CORS_ORIGINS=*: expected Access-Control-Allow-Origin *, got %q", got)
		}
	})
	for _, bad := range []string{"app.example", "https://app.example/path", "ftp://app.example", "https://app.example, *", "https://*.*.example", "https://*", "https://app.example*"} {
		code, _, stderr := runCommand(t, []string{"TRIBUTARY_MYSQL_DSN=", "TRIBUTARY_DATA_DIR=" + t.TempDir(), "TRIBUTARY_CORS_ORIGINS=" + bad}, "serve")
		if code == 0 || !strings.Contains(stderr, "TRIBUTARY_CORS_ORIGINS") {
			t.Errorf("TRIBUTARY_CORS_ORIGINS=%q: expected start-up to fail naming the variable, got exit %d: %s", bad, code, stderr)
		}
	}
}

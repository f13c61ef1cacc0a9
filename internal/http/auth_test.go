package http_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

func TestParseTokens(t *testing.T) {
	t.Parallel()
	good, err := esthttp.ParseTokens("app:write:s3cr3t1, dashboard:read:s3cr3t2\n# a comment\nci:read:x:y:z\n")
	if err != nil || len(good) != 3 || good[0] != (esthttp.Token{Name: "app", Role: esthttp.RoleWrite, Secret: "s3cr3t1"}) ||
		good[2].Secret != "x:y:z" {
		t.Fatalf("ParseTokens = %+v, %v; want three tokens, the last with secret x:y:z", good, err)
	}
	for _, bad := range []string{"app:write", "app:admin:s3cr3t", ":read:s", "a:read:s,a:write:t", "a:read:s,b:read:s", "a:read:"} {
		_, err := esthttp.ParseTokens(bad)
		if err == nil {
			t.Errorf("ParseTokens(%q) succeeded, want an error", bad)
			continue
		}
		if strings.Contains(err.Error(), ":s") && strings.Contains(bad, "s,") {
			t.Errorf("ParseTokens(%q) error %q repeats a secret", bad, err)
		}
	}
	if tokens, err := esthttp.ParseTokens(""); err != nil || len(tokens) != 0 {
		t.Errorf("ParseTokens(\"\") = %v, %v; want no tokens", tokens, err)
	}
}

// TestParseTokensNamesARefusedEntryByItsPlace: entries written
// token:role:name have valid roles, so they parse with each token as a
// name; two that name the same holder then give the same "token", and the
// refusal quoted the second entry's name, a token, into the start-up log
// (as a repeated name did). Both are named by their entries' places.
func TestParseTokensNamesARefusedEntryByItsPlace(t *testing.T) {
	t.Parallel()
	const first, second = "3f9c0a7b1d2e4f60a1b2", "8a1e0a7b1d2e4f60a1b2"
	for _, entries := range []string{
		first + ":write:orders-service," + second + ":read:orders-service",
		first + ":write:orders-service\n# the reader\n" + first + ":read:orders-service-reader",
	} {
		_, err := esthttp.ParseTokens(entries)
		if err == nil || strings.Contains(err.Error(), first) || strings.Contains(err.Error(), second) ||
			!strings.Contains(err.Error(), "entry 1") || !strings.Contains(err.Error(), "entry 2") && !strings.Contains(err.Error(), "entry 3") {
			t.Errorf("ParseTokens(%q): expected an error naming both entries by their places, quoting neither first field; got %v", entries, err)
		}
	}
}

// TestATokenEntryIsNumberedTheSameHoweverItsEmptiesAreWritten: entries
// were split dropping empty ones, so "a,,b" named b "entry 2" and "a, ,b"
// "entry 3", and a file's "x," line was "line 1" but "x, " was "line 1
// entry 1": every entry is counted, empty ones too, a line's "\r" is no
// entry, and "\r\n" in the variable is one separator.
func TestATokenEntryIsNumberedTheSameHoweverItsEmptiesAreWritten(t *testing.T) {
	t.Parallel()
	const good = "a:write:0123456789abcdef"
	for _, c := range []struct {
		text  string
		lines bool
		want  string
	}{
		{good + ",,bad", false, "V entry 3: "},
		{good + ", ,bad", false, "V entry 3: "},
		{good + ",\t,bad", false, "V entry 3: "},
		{good + "\n\nbad", false, "V entry 3: "},
		{good + "\r\n\r\nbad", false, "V entry 3: "},
		{good + "\r\rbad", false, "V entry 3: "},
		{good + "\r\nbad", false, "V entry 2: "},
		{"bad,", false, "V entry 1: "},
		{"bad, ", false, "V entry 1: "},
		{good + ",,bad\n", true, "V line 1 entry 3: "},
		{good + ", ,bad\n", true, "V line 1 entry 3: "},
		{good + ", ,bad\r\n", true, "V line 1 entry 3: "},
		{"bad,\n", true, "V line 1 entry 1: "},
		{"bad, \n", true, "V line 1 entry 1: "},
		{"bad\r\n", true, "V line 1: "},
		{"# x\r\n\r\n" + good + "\r\nbad\r\n", true, "V line 4: "},
	} {
		_, _, err := esthttp.ParseTokenSources(esthttp.TokenSource{Name: "V", Text: c.text, Lines: c.lines})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("ParseTokenSources(%q, lines %v): expected an error beginning %q; got %v", c.text, c.lines, c.want, err)
		}
	}
	// ParseTokens counts as the variable does.
	for _, text := range []string{good + ",,bad", good + ", ,bad", good + "\r\n\r\nbad"} {
		if _, err := esthttp.ParseTokens(text); err == nil || !strings.HasPrefix(err.Error(), "token entry 3: ") {
			t.Errorf("ParseTokens(%q): expected an error beginning %q; got %v", text, "token entry 3: ", err)
		}
	}
}

// TestAReadWithAQueryTokenIsNotStoredBySharedCaches: a read authorised by
// ?access_token= carried no Cache-Control, so a shared cache (Varnish
// caches such a GET for two minutes by default; the Authorization header,
// unlike the query, keeps it from storing one) kept the answer under a URL
// that holds the token, and served it on after the token was revoked.
// RFC 6750 §2.3: such a 2xx says Cache-Control: private.
func TestAReadWithAQueryTokenIsNotStoredBySharedCaches(t *testing.T) {
	t.Parallel()
	const readSecret = "r-0123456789abcdef"
	tokens, err := esthttp.ParseTokens("dashboard:read:" + readSecret)
	if err != nil {
		t.Fatal(err)
	}
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	go feed.Run(t.Context())
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{Tokens: tokens, Feed: feed, Heartbeat: time.Hour}))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/events?access_token=" + readSecret, "/streams?access_token=" + readSecret,
		"/events?limit=5&access%5Ftoken=" + readSecret} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != http.StatusOK || !strings.Contains(cc, "private") {
			t.Errorf("GET %s: expected 200 with Cache-Control: private; got %d, Cache-Control %q", path, resp.StatusCode, cc)
		}
	}
	// An EventSource, the reason the query takes a token at all: its
	// no-cache replaced the private (found by the session's final read),
	// and no-cache lets a shared cache store the answer.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/events?access_token="+readSecret, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != http.StatusOK || !strings.Contains(cc, "private") || !strings.Contains(cc, "no-cache") {
		t.Errorf("a subscription with ?access_token=: expected 200 with Cache-Control: no-cache, private; got %d, Cache-Control %q", resp.StatusCode, cc)
	}
}

func TestAccessControl(t *testing.T) {
	t.Parallel()
	const writeSecret, readSecret = "w-0123456789abcdef", "r-0123456789abcdef"
	tokens, err := esthttp.ParseTokens("app:write:" + writeSecret + ",dashboard:read:" + readSecret)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	c := newContract(t)
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Tokens: tokens, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: c}
	stream := "/streams/" + uuid.NewString() + "/events"
	body := `{"stream_type":"order","events":[{"type":"Placed","data":{}}]}`

	cases := []struct {
		name, method, path, auth string
		status                   int
		challenge                string
		more                     string // a second Authorization header
	}{
		{"no token", "GET", "/events", "", 401, `Bearer realm="tributary"`, ""},
		{"unknown token", "GET", "/events", "Bearer nope", 401, `Bearer realm="tributary", error="invalid_token"`, ""},
		{"not bearer", "GET", "/events", "Basic " + writeSecret, 401, `Bearer realm="tributary"`, ""},
		{"read token reads", "GET", "/events", "Bearer " + readSecret, 200, "", ""},
		// A token that does not allow the request: RFC 6750 §3 asks for
		// a challenge, saying the token's scope is too narrow (it had none).
		{"read token writes", "POST", stream, "Bearer " + readSecret, 403, `Bearer realm="tributary", error="insufficient_scope"`, ""},
		// ?access_token= is for what cannot set a header (EventSource, a
		// page's read): a POST's token in its URL ends up in the logs of
		// proxies and browsers, and is refused, whatever the token.
		{"read token writes by the query", "POST", stream + "?access_token=" + readSecret, "", 400, "", ""},
		{"write token writes by the query", "POST", stream + "?access_token=" + writeSecret, "", 400, "", ""},
		{"write token writes by the query, empty", "POST", stream + "?access_token=", "Bearer " + writeSecret, 400, "", ""},
		{"write token writes", "POST", stream, "Bearer " + writeSecret, 201, "", ""},
		{"write token reads", "GET", stream, "Bearer " + writeSecret, 200, "", ""},
		{"query token", "GET", stream + "?access_token=" + readSecret, "", 200, "", ""},
		{"bad query token", "GET", "/events?access_token=nope", "", 401, `Bearer realm="tributary", error="invalid_token"`, ""},
		// The contract holds no data, and the page's footer links to it: a
		// navigation, which carries no token, was a 401 (blackbox2's F7).
		{"the contract is open", "GET", "/openapi.yaml", "", 200, "", ""},
		// One token, sent one way (RFC 6750): behind a proxy that adds its
		// own header, the first of two must not win (a hostile review found
		// a write token followed by a read token appended).
		{"two Authorization headers", "POST", stream, "Bearer " + writeSecret, 400, "", "Bearer " + readSecret},
		{"a bad Authorization header then a good one", "GET", "/events", "Bearer nope", 400, "", "Bearer " + readSecret},
		{"a header token and a query token", "GET", "/events?access_token=" + readSecret, "Bearer " + readSecret, 400, "", ""},
		// A token where no token goes is still never logged (a hostile
		// review found after=<token> written to the log as sent).
		{"a token as a position", "GET", "/events?after=" + readSecret, "Bearer " + readSecret, 400, "", ""},
		{"a token as a stream type", "GET", "/events?stream_type=order," + writeSecret, "Bearer " + readSecret, 200, "", ""},
		{"a token as a stream id", "GET", "/streams/" + writeSecret + "/events", "Bearer " + readSecret, 400, "", ""},
		{"healthz is open", "GET", "/healthz", "", 200, "", ""},
		{"readyz is open", "GET", "/readyz", "", 200, "", ""},
	}
	for _, tc := range cases {
		var rd *strings.Reader
		if tc.method == "POST" {
			rd = strings.NewReader(body)
		} else {
			rd = strings.NewReader("")
		}
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, rd)
		req.Header.Set("Content-Type", "application/json")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		if tc.more != "" {
			req.Header.Add("Authorization", tc.more)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tc.name, got, tc.challenge)
		}
	}
	// Only the header's write was written: none sent with a token in the URL.
	req, _ := http.NewRequest("GET", srv.URL+strings.TrimSuffix(stream, "/events"), nil)
	req.Header.Set("Authorization", "Bearer "+readSecret)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"version":1,`) {
		t.Errorf("the stream after the appends: %d %s; want version 1, the one append sent with its token in a header", resp.StatusCode, b)
	}
	out := logs.String()
	for _, secret := range []string{writeSecret, readSecret} {
		if strings.Contains(out, secret) {
			t.Fatalf("the log contains a token:\n%s", out)
		}
	}
	if !strings.Contains(out, `"token":"dashboard"`) || !strings.Contains(out, `"token":"app"`) || !strings.Contains(out, "access_token=REDACTED") {
		t.Errorf("the access log should name tokens and redact access_token; got:\n%s", out)
	}
}

// TestATokenHoldersNameThatIsAnotherHoldersTokenIsRefused: the access log
// names a request's token holder, never its token; but a holder named with
// another holder's token (a mix-up of two entries' fields) was taken, and
// each of that holder's requests logged the other's token in plain text.
// Found by a black-box tester; ParseTokens refuses it, naming neither.
// A name that holds a token among other characters (a token pasted into
// a name: "ci-<token>"), its own or another's, was taken, and logged with
// each request as the first was (a review of the twentieth session).
func TestATokenHoldersNameThatIsAnotherHoldersTokenIsRefused(t *testing.T) {
	t.Parallel()
	const secret, other = "abcdefghijklmnopqrstu", "qqqqqqqqqqqqqqqqqqqq"
	for _, tokens := range []string{
		secret + ":read:" + other + ",b:write:" + secret,      // the name first
		"b:write:" + secret + "," + secret + ":read:" + other, // the token first
		"ci-" + secret + ":read:" + other + ",b:write:" + secret,
		"b:write:" + secret + ",ci-" + secret + "-2:read:" + other,
		"ci-" + secret + ":read:" + secret, // its own
	} {
		_, err := esthttp.ParseTokens(tokens)
		if err == nil {
			t.Errorf("a holder named with another holder's token: accepted; want it refused")
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), other) {
			t.Errorf("the refusal quotes a token: %v", err)
		}
	}
}

// TestEveryAnswerToAURLWithAQueryTokenIsPrivate: only an answer that
// passed access control said Cache-Control: private for a token in the
// query, so a 404 or 405 (the router answers them before access control),
// an OPTIONS, a CORS preflight, a probe, the page, a 401 for a token that
// is not valid and a 400 for a token sent both ways went without it, and a
// shared cache could keep them under a URL that holds a token (404 and 405
// are cacheable by default, RFC 9110 §15.1). From a black-box tester.
func TestEveryAnswerToAURLWithAQueryTokenIsPrivate(t *testing.T) {
	t.Parallel()
	const writeSecret, readSecret = "w-0123456789abcdef", "r-0123456789abcdef"
	tokens, err := esthttp.ParseTokens("app:write:" + writeSecret + ",dashboard:read:" + readSecret)
	if err != nil {
		t.Fatal(err)
	}
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	go feed.Run(t.Context())
	h := esthttp.New(store, esthttp.Options{Tokens: tokens, Feed: feed, Heartbeat: time.Hour, OpenAPI: api.OpenAPI,
		MaxBodyBytes: 1 << 10, CORSOrigins: []string{"https://app.example.com"}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseSubscriptions)
	id := uuid.NewString()
	for _, tc := range []struct {
		method, path string
		header       []string
		body         string
		status       int
	}{
		{"GET", "/no/such?access_token=" + readSecret, nil, "", http.StatusNotFound},
		{"HEAD", "/no/such?access_token=" + readSecret, nil, "", http.StatusNotFound},
		{"POST", "/no/such?access_token=" + writeSecret, nil, "{}", http.StatusNotFound},
		{"GET", "/streams/" + id + "/?access%5Ftoken=" + readSecret, nil, "", http.StatusNotFound},
		{"DELETE", "/streams?access_token=" + writeSecret, nil, "", http.StatusMethodNotAllowed},
		{"PUT", "/events?access_token=" + writeSecret, nil, "", http.StatusMethodNotAllowed},
		{"OPTIONS", "/events?access_token=" + readSecret, nil, "", http.StatusNoContent},
		{"OPTIONS", "/no/such?access_token=" + readSecret, nil, "", http.StatusNotFound},
		{"OPTIONS", "/events?access_token=" + readSecret,
			[]string{"Origin", "https://app.example.com", "Access-Control-Request-Method", "GET"}, "", 0},
		{"HEAD", "/events?access_token=" + readSecret, nil, "", http.StatusOK},
		{"GET", "/healthz?access_token=" + readSecret, nil, "", http.StatusOK},
		{"GET", "/readyz?access_token=" + readSecret, nil, "", http.StatusOK},
		{"GET", "/?access_token=" + readSecret, nil, "", http.StatusOK},
		{"GET", "/events?access_token=not-a-token", nil, "", http.StatusUnauthorized},
		{"GET", "/events?access_token=" + readSecret, []string{"Authorization", "Bearer " + readSecret}, "", http.StatusBadRequest},
		{"GET", "/events?after=zz&access_token=" + readSecret, nil, "", http.StatusBadRequest},
		// A known token anywhere else in the URL, the header's token allowing it.
		{"GET", "/streams/" + readSecret, []string{"Authorization", "Bearer " + readSecret}, "", http.StatusBadRequest},
		{"GET", "/no/" + url.PathEscape("x/"+writeSecret), nil, "", http.StatusNotFound},
		{"GET", "/events?type=" + writeSecret, []string{"Authorization", "Bearer " + readSecret}, "", http.StatusOK},
		{"POST", "/streams/" + id + "/events?access_token=" + readSecret, nil, `{"stream_type":"a","events":[{"type":"X","data":1}]}`, http.StatusBadRequest},
		{"POST", "/streams/" + id + "/events?access_token=" + writeSecret, nil,
			`{"stream_type":"a","events":[{"type":"X","data":"` + strings.Repeat("x", 2<<10) + `"}]}`, http.StatusBadRequest},
		{"POST", "/streams/" + id + "/events?access_token=" + writeSecret, nil, `{"stream_type":"a","events":[{"type":"X","data":1}]}`, http.StatusBadRequest},
	} {
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(tc.body)
		}
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(tc.header); i += 2 {
			req.Header.Set(tc.header[i], tc.header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		what := tc.method + " " + tc.path
		if len(tc.header) > 0 {
			what += fmt.Sprintf(" with %q", tc.header)
		}
		if tc.status != 0 && resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", what, resp.StatusCode, tc.status)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
			t.Errorf("%s: %d with Cache-Control %q; want it to say private, as the URL holds a token", what, resp.StatusCode, cc)
		}
	}
}

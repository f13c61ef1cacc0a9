package http_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestNoKnownTokenReachesTheLogWhateverSurroundsIt: a hostile review of
// authenticator.redact. It split the path and query at / ? # & = ; , + and
// space, and looked up each piece: a token that holds one of those (a
// base64 token, as `openssl rand -base64` makes, holds / + =) was split and
// never found, and one next to any other character (a quote, a dot, a colon,
// which the query's loggable values take) was logged as sent. A token sent
// as X-Request-Id (of the characters a request id takes) was logged as the
// request's id, and one sent as the method as the request's method.
func TestNoKnownTokenReachesTheLogWhateverSurroundsIt(t *testing.T) {
	t.Parallel()
	const b64Secret, plainSecret = "Zm9vYmFy/YmF6+cXV4==", "r-0123456789abcdef"
	tokens := mustParseTokens(t, "app:write:"+b64Secret+",dashboard:read:"+plainSecret)
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Tokens: tokens, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	paths := []string{
		"/streams/" + url.PathEscape(b64Secret) + "/events",           // the path holds / + =
		"/streams/" + url.PathEscape(`"`+plainSecret+`"`) + "/events", // quoted
		"/streams/" + plainSecret + ".json",                           // a dot after it
		"/streams/x:" + plainSecret,                                   // a colon before it
		"/events?stream_type=" + plainSecret + ".v2",                  // a loggable value
		"/events?after=" + plainSecret + ":1",
		"/events?stream_type=a%2C" + plainSecret, // an encoded separator
	}
	for _, p := range paths {
		req, _ := http.NewRequest("GET", srv.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+plainSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A token sent as the request's method, alone or inside one: a method
	// is any HTTP token, and the access log says which one it was.
	for _, method := range []string{plainSecret, "X" + plainSecret + "!"} {
		req, _ := http.NewRequest(method, srv.URL+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+plainSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A token sent as the request's id: the id is logged on every line.
	req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+plainSecret)
	req.Header.Set("X-Request-Id", plainSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out := logs.String()
	for _, line := range strings.Split(out, "\n") {
		for _, secret := range []string{b64Secret, plainSecret, url.PathEscape(b64Secret)} {
			if strings.Contains(line, secret) {
				t.Errorf("the log holds a token: %s", line)
			}
		}
	}
}

// unavailableStore fails every read of a stream as the database being out
// of reach: a 503, which the server logs as an error with the path.
type unavailableStore struct{ eventstore.Store }

func (unavailableStore) Stream(context.Context, uuid.UUID) (eventstore.Stream, error) {
	return eventstore.Stream{}, eventstore.ErrUnavailable
}

// TestNoKnownTokenReachesTheErrorLog: a request that fails with a 5xx is
// logged twice, its access line and a "request failed" line with its path;
// a known token in that path (here a token that is also a stream id) is
// REDACTED in both (b9dcc2e's lines, which no test covered).
func TestNoKnownTokenReachesTheErrorLog(t *testing.T) {
	t.Parallel()
	const secret = "0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10" // a token shaped as a UUID
	tokens := mustParseTokens(t, "app:read:"+secret)
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(unavailableStore{teststore.SQLite.Open(t)}, esthttp.Options{
		Tokens: tokens, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/streams/"+secret, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("GET /streams/<token> on an unavailable store: %d; want 503", resp.StatusCode)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"request failed"`) {
		t.Fatalf("no error line for the 503:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("the log holds the token:\n%s", out)
	}
}

// TestNoKnownTokenReachesTheErrorLogInTheStoresError: the "request failed"
// line logs the error, which a store writes with the request's stream id
// ("read stream <id>: …"): a token shaped as a UUID, sent as the stream id
// of a read that ran out of time on the database, was REDACTED in the
// line's path and logged as sent in its error. And a store writes a stream
// id as it parsed it, in lower case: a token that is an upper-case UUID was
// logged lower-cased, past the redaction of what was sent. On both stores.
func TestNoKnownTokenReachesTheErrorLogInTheStoresError(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{ // tokens shaped as UUIDs
		"0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10",
		"0190F4B2-7A3C-7D1E-8F00-2C5B1A9E4D10",
		"0190f4b2-7A3C-7d1e-8F00-2c5b1a9e4d10",
	} {
		t.Run(secret, func(t *testing.T) {
			t.Parallel()
			testNoTokenInTheStoresError(t, secret)
		})
	}
}

func testNoTokenInTheStoresError(t *testing.T, secret string) {
	tokens := mustParseTokens(t, "app:write:"+secret)
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		logs := &testlog.Buffer{}
		// Every request runs out of time before the database answers.
		srv := httptest.NewServer(esthttp.New(k.Open(t), esthttp.Options{
			Tokens: tokens, Logger: slog.New(slog.NewJSONHandler(logs, nil)), RequestTimeout: time.Nanosecond,
		}))
		t.Cleanup(srv.Close)
		sendForTheLog(srv.URL, secret, "/streams/"+secret, "/streams/"+secret+"/events/1")
		out := logs.String()
		if !strings.Contains(out, `"msg":"request failed"`) {
			t.Fatalf("no error line for the requests that ran out of time:\n%s", out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(strings.ToLower(line), strings.ToLower(secret)) {
				t.Errorf("the log holds the token, in some letter case: %s", line)
			}
		}
	})
}

// idPanicStore panics on a stream's read with a value that names the
// stream, as a bug's panic may quote what a request sent.
type idPanicStore struct{ eventstore.Store }

func (idPanicStore) Stream(_ context.Context, id uuid.UUID) (eventstore.Stream, error) {
	panic("no stream " + id.String())
}

// TestNoKnownTokenReachesTheLogInAPanic: the "panic" line logged the
// panic's value as it was: a panic that quotes the request (here the
// stream id it read, in the lower case the service writes ids in) logged
// a token a client sent there.
func TestNoKnownTokenReachesTheLogInAPanic(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10", "0190F4B2-7A3C-7D1E-8F00-2C5B1A9E4D10"} {
		tokens := mustParseTokens(t, "app:read:"+secret)
		logs := &testlog.Buffer{}
		srv := httptest.NewServer(esthttp.New(idPanicStore{}, esthttp.Options{Tokens: tokens, Logger: slog.New(slog.NewJSONHandler(logs, nil))}))
		req, _ := http.NewRequest("GET", srv.URL+"/streams/"+secret, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		out := logs.String()
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(out, `"msg":"panic"`) || !strings.Contains(out, "no stream REDACTED") {
			t.Fatalf("GET /streams/<token> on a store that panics naming it: %d, want 500, and a panic line with the stream REDACTED:\n%s", resp.StatusCode, out)
		}
		if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
			t.Errorf("the log holds the token %s, in some letter case:\n%s", secret, out)
		}
	}
}

// typePanicFeed's subscriptions are caught up at once, then panic, off
// net/http's goroutine, with a value that names the stream type they were
// asked for.
type typePanicFeed struct{}

func (typePanicFeed) Subscribe(opts eventstore.SubscribeOptions) eventstore.Subscription {
	return &typePanicSub{types: opts.StreamTypes}
}

type typePanicSub struct {
	types  []string
	called bool
}

func (s *typePanicSub) Next(_ context.Context, emit func(eventstore.Delivery) error) error {
	if !s.called {
		s.called = true
		return emit(eventstore.Delivery{CaughtUp: true})
	}
	panic("no stream type " + strings.Join(s.types, ","))
}

func (s *typePanicSub) Ready() <-chan struct{} { return closedChan }
func (s *typePanicSub) Close()                 {}

// TestNoKnownTokenReachesTheLogInALiveSubscriptionsPanic: a taken-over
// subscription logs its own panics (no recoverer runs off net/http's
// goroutine), and logged the value as it was, as the recoverer did.
func TestNoKnownTokenReachesTheLogInALiveSubscriptionsPanic(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-t0ken.value"
	tokens := mustParseTokens(t, "app:read:"+secret)
	logs := &testlog.Buffer{}
	h := esthttp.New(emptyLog{}, esthttp.Options{Feed: typePanicFeed{}, Heartbeat: time.Hour, Tokens: tokens,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(h.CloseSubscriptions)
	req, _ := http.NewRequest("GET", srv.URL+"/events?stream_type="+secret, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body) //nolint:errcheck // cut by the panic
	resp.Body.Close()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), `"msg":"panic"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no panic line:\n%s", logs.String())
		}
	}
	if out := logs.String(); strings.Contains(out, secret) || !strings.Contains(out, "no stream type REDACTED") {
		t.Errorf("the panic line holds the token, or not its value REDACTED:\n%s", out)
	}
}

// TestNoTokenIsLoggedAndEveryAnswerIsPrivateHoweverTheURLSpellsIt: a
// hostile review of the spellings a token may take in a request (sent on
// a raw connection, as no client library would): percent-encoded, in
// either case of hex, twice encoded, after an encoded '#', in an
// absolute-form target, in any query pair. No line of the log may hold it
// in any of those spellings, and every answer to a URL that holds it
// must say Cache-Control: private: a query value holding it encoded was
// redacted in the log, but its 401 said nothing of caching.
//
// A second review gave it tokens that hold a space, a '+', a quote and a
// backslash, spelt as a form encodes them ('+' for a space, %2B for a
// '+'), after a ';', in a repeated parameter, after a raw '#': a path
// that spelt a space '+' was logged as sent, the token in it whole, and a
// problem's detail quoted what the request sent (a stream id, a
// parameter, a header) back, token and all, into the client's logs.
// Neither the log nor any answer's body may hold a token now, however
// spelt, nor, through a problem's Go-quoted detail, escaped.
func TestNoTokenIsLoggedAndEveryAnswerIsPrivateHoweverTheURLSpellsIt(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"tok3n-s3cr3t-value", "tok3n s3cr3t+v4lue x", `tok3n"s3cr3t\v4lue`} {
		t.Run(secret, func(t *testing.T) {
			t.Parallel()
			testNoSpellingOfATokenIsLogged(t, secret)
		})
	}
}

func testNoSpellingOfATokenIsLogged(t *testing.T, secret string) {
	tokens := mustParseTokens(t, "app:write:"+secret)
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Tokens: tokens, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	all := func(s string, hex string) string { // every byte encoded, in hex's case
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString("%" + fmt.Sprintf(hex, s[i]))
		}
		return b.String()
	}
	enc := all(secret, "%02X")
	form := url.QueryEscape(secret) // a space as '+', a '+' as %2B
	spelled := map[string]string{
		"as is":              secret,
		"encoded":            enc,
		"encoded, lower":     all(secret, "%02x"),
		"one encoded":        "%74" + secret[1:],
		"twice encoded":      strings.ReplaceAll(enc, "%", "%25"),
		"thrice encoded":     strings.ReplaceAll(strings.ReplaceAll(enc, "%", "%25"), "%", "%25"),
		"after a %23":        "x%23" + secret,
		"after an enc. /":    "x%2F" + enc,
		"9 times encoded":    "%" + strings.Repeat("25", 8) + "74" + secret[1:],
		"form-encoded":       form,
		"form, lower hex":    strings.ReplaceAll(strings.ReplaceAll(form, "%2B", "%2b"), "%5C", "%5c"),
		"form-encoded twice": url.QueryEscape(form),
		"path-escaped":       url.PathEscape(secret), // a space as %20, a '+' as it is
		"'+' for %20":        strings.ReplaceAll(url.PathEscape(secret), "%20", "+"),
		"after a ;":          "x;" + form,
	}
	var targets []string
	for _, s := range spelled {
		if strings.Contains(s, " ") {
			continue // not in a request line: net/http answers it itself, and logs nothing
		}
		targets = append(targets,
			"/streams/"+s, "/streams/"+s+"/events", "/no/"+s, "/"+s,
			"/events?access_token="+s, "/events?stream_type="+s, "/events?type=a,"+s, "/events?x="+s, "/events?"+s,
			"/events?access%5Ftoken="+s, "/events?after="+s, "/events?from=1&limit="+s,
			"/events?type=a&type="+s, "/events?after=1;"+s, "/events#"+s,
			"http://"+srv.Listener.Addr().String()+"/streams/"+s)
	}
	basic := base64.StdEncoding.EncodeToString([]byte("app:" + secret))
	sent := 0
	for _, target := range targets {
		for _, auth := range []string{"", "authorization: bearer " + secret + "\r\n", "AUTHORIZATION: BEARER  not-the-token\r\n",
			"Authorization:   bEaReR   " + secret + "  \r\n", "Authorization: Basic " + basic + "\r\n", "Cookie: access_token=" + form + "\r\n",
			"x-request-id: id-" + secret + "\r\n", "X-REQUEST-ID: " + enc + "\r\n"} {
			resp, body := rawRequest(t, srv, "GET "+target+" HTTP/1.1\r\nHost: test\r\n"+auth+"Connection: close\r\n\r\n")
			sent++
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
				t.Errorf("GET %s (%q): %d with Cache-Control %q; want it to say private, as the URL holds a token",
					target, strings.TrimSpace(auth), resp.StatusCode, cc)
			}
			if holdsSecret(body, secret) {
				t.Errorf("GET %s (%q): %d, whose body holds the token: %s", target, strings.TrimSpace(auth), resp.StatusCode, body)
			}
		}
	}
	// Headers a problem quotes, with a valid token: each is a 400 or a 415
	// that names what it refused.
	bearer := "Authorization: Bearer " + secret + "\r\n"
	for _, s := range spelled {
		stream := "/streams/" + uuid.NewString() + "/events"
		for _, req := range []string{
			"GET /events HTTP/1.1\r\nAccept: text/event-stream\r\nLast-Event-ID: " + s + "\r\n",
			"GET " + stream + " HTTP/1.1\r\nAccept: text/event-stream\r\nLast-Event-ID: 1" + s + "\r\n",
			"GET /events HTTP/1.1\r\n" + esthttp.MinPositionHeader + ": " + s + "\r\n",
			"POST " + stream + " HTTP/1.1\r\nContent-Type: application/json\r\nIf-Match: \"" + s + "\"\r\nContent-Length: 2\r\n",
			"POST " + stream + " HTTP/1.1\r\nContent-Type: " + s + "\r\nContent-Length: 2\r\n",
			"POST " + stream + " HTTP/1.1\r\nContent-Type: application/json\r\nContent-Encoding: " + s + "\r\nContent-Length: 2\r\n",
		} {
			resp, body := rawRequest(t, srv, req+"Host: test\r\n"+bearer+"Connection: close\r\n\r\n{}")
			sent++
			if resp.StatusCode < 400 || holdsSecret(body, secret) {
				t.Errorf("%q: %d, whose body holds the token, or no problem: %s", strings.SplitN(req, "\r\n", 2)[1], resp.StatusCode, body)
			}
		}
	}
	// A method is any HTTP token, '%' and '+' included.
	for _, method := range []string{enc, "X" + strings.ReplaceAll(enc, "%", "%25"), strings.ReplaceAll(secret, " ", "+")} {
		if strings.ContainsAny(method, "\"\\") {
			continue // no HTTP token
		}
		req, _ := http.NewRequest(method, srv.URL+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sent++
	}
	// A line is logged just after its response is sent.
	for deadline := time.Now().Add(5 * time.Second); strings.Count(logs.String(), `"msg":"request"`) < sent && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if holdsSecret(line, secret) {
			t.Errorf("the log holds the token: %s", line)
		}
	}
}

// TestAProblemCutsWhatItQuotesOnlyOnceItsTokensAreRedacted: a problem
// quotes what the request sent cut (at 1 KiB, a stream id at 64 bytes),
// and the cut came first: a token that straddled it was quoted in part, up
// to all of it but a character, where no redaction could find it.
func TestAProblemCutsWhatItQuotesOnlyOnceItsTokensAreRedacted(t *testing.T) {
	t.Parallel()
	const secret = "tok3n-s3cr3t-value-0123456789"
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Tokens: mustParseTokens(t, "app:write:"+secret),
	}))
	t.Cleanup(srv.Close)
	bearer := "Authorization: Bearer " + secret + "\r\n"
	stream := "/streams/" + uuid.NewString() + "/events"
	for _, req := range []string{
		"GET /streams/" + strings.Repeat("a", 50) + secret + " HTTP/1.1\r\n" + bearer,
		"GET /no/" + strings.Repeat("a", 1000) + secret + " HTTP/1.1\r\n",
		"PUT /events" + strings.Repeat("a", 1000) + secret + " HTTP/1.1\r\n",
		"PUT" + strings.Repeat("A", 1000) + secret + " /events HTTP/1.1\r\n",
		"POST " + stream + " HTTP/1.1\r\n" + bearer + "Content-Type: " + strings.Repeat("a", 1000) + secret + "\r\nContent-Length: 2\r\n",
		"POST " + stream + " HTTP/1.1\r\n" + bearer + "Content-Type: application/json\r\nContent-Encoding: " + strings.Repeat("a", 1000) + secret + "\r\nContent-Length: 2\r\n",
		"GET /streams?after=" + strings.Repeat("a", 1000) + secret + " HTTP/1.1\r\n" + bearer,
	} {
		resp, body := rawRequest(t, srv, req+"Host: test\r\nConnection: close\r\n\r\n{}")
		// A method HTTP does not define is not quoted at all, only its
		// length: nothing of it to redact.
		quoted := !strings.HasPrefix(req, "PUT"+"A")
		if resp.StatusCode < 400 || strings.Contains(body, secret[:5]) || quoted && !strings.Contains(body, "REDACTED") {
			t.Errorf("%.60s…: %d %s; want a problem that quotes the token REDACTED (or, a method, not at all), no part of it", req, resp.StatusCode, body)
		}
	}
}

// rawRequest sends req, a whole HTTP/1.1 request, on a connection of its
// own, and returns the answer and its body.
func rawRequest(t *testing.T, srv *httptest.Server, req string) (*http.Response, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // a subscription's ends at the deadline
	return resp, string(b)
}

// holdsSecret reports whether s, a log line or an answer's body, holds
// secret in any letter case, percent-encoded up to 9 times (a '+' taken
// for a space, as a form encodes it, or not), and as JSON or a Go-quoted
// string escapes it.
func holdsSecret(s, secret string) bool {
	secret = strings.ToLower(secret)
	unquote := strings.NewReplacer(`\\`, `\`, `\"`, `"`)
	for i := 0; i < 10; i, s = i+1, lenientUnescape(s) {
		for _, form := range []string{strings.ToLower(s), strings.ToLower(unquote.Replace(unquote.Replace(s)))} {
			if strings.Contains(form, secret) || strings.Contains(strings.ReplaceAll(form, "+", " "), strings.ReplaceAll(secret, "+", " ")) {
				return true
			}
		}
	}
	return false
}

// lenientUnescape decodes every valid percent-escape of s and keeps the
// rest as it is.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if c, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mustParseTokens is esthttp.ParseTokens of spec, the test failed on an
// error.
func mustParseTokens(t *testing.T, spec string) []esthttp.Token {
	t.Helper()
	tokens, err := esthttp.ParseTokens(spec)
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// sendForTheLog sends, as the holder of token, a GET of each of gets, then
// a GET of the stream page and an append at the stream named by the first
// (its path + "/events"). Their answers are not read: a test of what the
// log holds (a request may fail when its time ran out).
func sendForTheLog(url, token string, gets ...string) {
	reqs := []struct{ method, path, body string }{}
	for _, g := range gets {
		reqs = append(reqs, struct{ method, path, body string }{"GET", g, ""})
	}
	reqs = append(reqs,
		struct{ method, path, body string }{"GET", gets[0] + "/events", ""},
		struct{ method, path, body string }{"POST", gets[0] + "/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`})
	for _, tc := range reqs {
		req, _ := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // the write deadline passed too: the log is what counts
		}
		resp.Body.Close()
	}
}

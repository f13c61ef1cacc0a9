package http_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheLogWritesOnlyTheValuesThatParse: the access log wrote the value
// of each of the API's own query parameters whenever it was made of the
// characters of numbers and names, and a path as sent, so a mistyped token
// (not a known one, which is REDACTED) pasted into after=, or into a path
// segment, was logged almost whole (a black-box tester). A query value is
// written now only when it parses as what its parameter takes (a number, a
// stream id, forward or backward, a list of names), a path segment only
// when it is a word of a route, a UUID or a number, a method only when it
// is one HTTP defines; anything else as <invalid: N bytes>. Valid values
// are still written, as operators need them.
func TestTheLogWritesOnlyTheValuesThatParse(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	// At DEBUG: a /readyz that passes is logged there.
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}))
	t.Cleanup(srv.Close)
	// Near-tokens: 34 characters of a 36-character token, one that begins
	// with a digit and one with letters, each made of what numbers, names
	// and ids are made of.
	const digits = "9c1e4b7a2f6d8e0a3b5c7d9e1f2a4b6c8d"
	const letters = "tk_live-9c1e4b7a2f6d8e0a3b5c7d9e1f"
	id := uuid.NewString()
	targets := []string{
		"/events?after=" + digits,
		"/events?after=" + letters + "&limit=5",
		"/streams?after=" + digits,
		"/streams/" + id + "/events?from=" + letters,
		"/streams/" + id + "/events?direction=" + letters,
		"/events?limit=" + digits,
		"/events?tokn=" + letters,
		"/events?" + letters,
		"/streams/" + digits,
		"/streams/" + letters + "/events",
		"/x/" + letters[:10] + "/" + letters[10:],
		"/streams/" + id + "/events/" + digits,
	}
	valid := []struct{ target, path, query string }{
		{"/events?after=5&limit=10&type=A,B&stream_type=order", "/events", "after=5&limit=10&type=A,B&stream_type=order"},
		{"/streams?after=" + id + "&limit=2", "/streams", "after=" + id + "&limit=2"},
		{"/streams/" + id + "/events/3", "/streams/" + id + "/events/3", ""},
		{"/streams/" + id + "/events?from=2&direction=backward", "/streams/" + id + "/events", "from=2&direction=backward"},
		{"/%65vents", "/%65vents", ""},
		{"/readyz", "/readyz", ""},
	}
	getEach(t, srv.URL, targets...)
	for _, v := range valid {
		getEach(t, srv.URL, v.target)
	}
	for _, method := range []string{letters, digits} {
		rawRequest(t, srv, method+" /events HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
	}
	want := len(targets) + len(valid) + 2
	untilRequestsLogged(logs, want)
	out := logs.String()
	if n := strings.Count(out, `"msg":"request"`); n < want {
		t.Fatalf("%d access lines, want %d:\n%s", n, want, out)
	}
	for _, near := range []string{digits, letters} {
		for _, part := range []string{near[:10], near[10:20], near[20:]} {
			if strings.Contains(out, part) {
				t.Errorf("the log holds %q, a part of the near-token %s", part, near)
			}
		}
	}
	for _, s := range []string{
		`"query":"after=<invalid: 34 bytes>"`,
		`"query":"after=<invalid: 34 bytes>&limit=5"`,
		`"query":"from=<invalid: 34 bytes>"`,
		`"query":"direction=<invalid: 34 bytes>"`,
		`"query":"limit=<invalid: 34 bytes>"`,
		`"path":"/streams/<invalid: 34 bytes>"`,
		`"path":"/streams/<invalid: 34 bytes>/events"`,
		`"path":"/x/<invalid: 10 bytes>/<invalid: 24 bytes>"`, // x: a plain word (plainWord),
		`"path":"/streams/` + id + `/events/<invalid: 34 bytes>"`,
		`"method":"<invalid: 34 bytes>"`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("no line says %s", s)
		}
	}
	for _, v := range valid {
		s := `"path":"` + v.path + `","query":"` + v.query + `"`
		if !strings.Contains(out, s) {
			t.Errorf("%s: no line says %s", v.target, s)
		}
	}
	if t.Failed() {
		t.Logf("the log:\n%s", out)
	}
}

// TestTheLogWritesNoValueThatSharesPartOfAKnownToken: a value that parses
// (a filter's names, a stream id) was logged whole, so a known token
// mistyped or cut short where a name or an id goes (stream_type=, type=,
// after=, a stream id in the path), which redact does not find, was
// logged almost whole. Such a value, sharing 8 characters in a row with a
// known token in any case, is written now as <invalid: N bytes>; names
// that share nothing with a token are still written.
func TestTheLogWritesNoValueThatSharesPartOfAKnownToken(t *testing.T) {
	t.Parallel()
	const secret = "tk_live-9c1e4b7a2f6d8e0a3b5c7d9e1f2a"
	idSecret := uuid.NewString()
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Tokens: []esthttp.Token{{Name: "app", Role: esthttp.RoleWrite, Secret: secret}, {Name: "ids", Role: esthttp.RoleRead, Secret: idSecret}},
	}))
	t.Cleanup(srv.Close)
	typo := secret[:20] + "X" + secret[21:]          // one character mistyped
	cut := secret[:len(secret)-2]                    // cut short
	upper := strings.ToUpper(secret[:len(secret)-1]) // shouted, and cut
	idTypo := idSecret[:35] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", idSecret[35])+1)%16])
	targets := []string{
		"/events?stream_type=" + typo,
		"/events?type=OrderPlaced," + cut,
		"/events?type=" + upper + "&stream_type=order",
		"/streams?after=" + idTypo,
		"/streams/" + idTypo + "/events",
	}
	for _, target := range targets {
		req, err := http.NewRequest(http.MethodGet, srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	untilRequestsLogged(logs, len(targets))
	out := logs.String()
	if n := strings.Count(out, `"msg":"request"`); n < len(targets) {
		t.Fatalf("%d access lines, want %d:\n%s", n, len(targets), out)
	}
	for _, near := range []string{typo, cut, upper, idTypo} {
		for _, part := range []string{near[:10], near[10:20], near[22:32]} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(part)) {
				t.Errorf("the log holds %q, a part of the near-token %s", part, near)
			}
		}
	}
	for _, s := range []string{
		`"query":"stream_type=<invalid: 36 bytes>"`,
		`"query":"type=<invalid: 46 bytes>"`,
		`"query":"type=<invalid: 35 bytes>&stream_type=order"`,
		`"query":"after=<invalid: 36 bytes>"`,
		`"path":"/streams/<invalid: 36 bytes>/events"`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("no line says %s", s)
		}
	}
	if t.Failed() {
		t.Logf("the log:\n%s", out)
	}
}

// TestTheLogWritesOnlyTheShapeOfATargetThatIsNoPath: a request whose
// target is no path (CONNECT's host:port, or any method with such a
// target, or another scheme's URI), answered 400 and logged as
// unmatched, had its target logged whole as its path, so a mistyped
// token sent there was logged as sent. Its shape is logged now: an IP
// address and a port as sent, any other host, or a target that is no
// host and port, as <invalid: N bytes> (a known token still REDACTED:
// TestAConnectIsLoggedWithTheTargetItAskedFor).
func TestTheLogWritesOnlyTheShapeOfATargetThatIsNoPath(t *testing.T) {
	t.Parallel()
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	const near = "tklive9c1e4b7a2f6d8e0a3b5c7d9e1f" // 32 characters, a host name as net/http parses one
	for _, target := range []struct{ method, target, path string }{
		{"CONNECT", near + ":443", `"method":"CONNECT","route":"unmatched","path":"<invalid: 32 bytes>:443"`},
		{"GET", near + ":8080", `"method":"GET","route":"unmatched","path":"<invalid: 32 bytes>:8080"`},
		{"GET", near + ":/x", `"method":"GET","route":"unmatched","path":"<invalid: 32 bytes>:<invalid: 2 bytes>"`},
		{"CONNECT", "127.0.0.1:443", `"method":"CONNECT","route":"unmatched","path":"127.0.0.1:443"`},
		{"CONNECT", "[::1]:443", `"method":"CONNECT","route":"unmatched","path":"[::1]:443"`},
		{"GET", "mailto:" + near, `"method":"GET","route":"unmatched","path":"<invalid: 6 bytes>:<invalid: 32 bytes>"`},
	} {
		resp, _ := rawRequest(t, srv, target.method+" "+target.target+" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: %d, want 400", target.method, target.target, resp.StatusCode)
		}
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logs.String(), target.path) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(logs.String(), target.path) {
			t.Errorf("%s %s: no line says %s", target.method, target.target, target.path)
		}
	}
	if out := logs.String(); strings.Contains(out, near[:10]) || strings.Contains(out, near[10:20]) || strings.Contains(out, near[20:]) {
		t.Errorf("the log holds a part of %s:\n%s", near, out)
	}
	if t.Failed() {
		t.Logf("the log:\n%s", logs.String())
	}
}

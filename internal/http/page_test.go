package http_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// The page is validated as the string its schema says.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) }

// The page touches no store: these tests run on the embedded one only.

// TestPageMatchesOpenAPI drives GET / through its answers, each checked
// against openapi.yaml.
func TestPageMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	c := newContract(t)
	s := newServer(t, c, teststore.OpenSQLite(t, t.TempDir()))
	r := s.do("GET", "/", "")
	expectStatus(t, "page", r, 200)
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET /: Content-Type %q, want text/html; charset=utf-8", ct)
	}
	expectStatus(t, "page not modified", s.do("GET", "/", "", "If-None-Match", r.header.Get("ETag")), 304)
	expectStatus(t, "page with a query", s.do("GET", "/?view=log", ""), 200)
	expectStatus(t, "page HEAD", s.do("HEAD", "/", ""), 200)
	if got := s.do("POST", "/", ""); got.status != 405 || got.header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("POST /: %d with Allow %q, want 405 with Allow GET, HEAD, OPTIONS", got.status, got.header.Get("Allow"))
	}
	if seen := c.seen["GET /"]; len(seen) < 3 {
		t.Errorf("GET / was checked against openapi.yaml %d times (%v), want 3", len(seen), seen)
	}
}

// TestPageIgnoresItsQueryString: GET / with a query (a link a chat app or
// a mail tracker decorated, ?fbclid=…, or a filter typed as a query) was a
// JSON 400, which a browser shows as raw text, where a person expected the
// page: its views and their filters are in the fragment (#/?stream_type=…),
// and it takes nothing from the query. It is the page, as without one.
func TestPageIgnoresItsQueryString(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.OpenSQLite(t, t.TempDir()))
	page := s.do("GET", "/", "")
	expectStatus(t, "page", page, 200)
	for _, target := range []string{"/?fbclid=abc", "/?utm_source=x&utm_medium=chat", "/?stream_type=order", "/?view=log&view=streams", "/?empty=", "/?%zz", "/?access_token=x"} {
		r := s.do("GET", target, "")
		if r.status != 200 || r.header.Get("Content-Type") != "text/html; charset=utf-8" || string(r.body) != string(page.body) {
			t.Errorf("GET %s: %d %s (%d bytes); expected the page, as GET / answers", target, r.status, r.header.Get("Content-Type"), len(r.body))
		}
		expectStatus(t, "GET "+target+" revalidated", s.do("GET", target, "", "If-None-Match", page.header.Get("ETag")), 304)
	}
}

// TestPageIsServedWithoutATokenButNotTheAPI: the page is a static shell
// that holds no data, so access control leaves it open, as the contract its
// footer links to; what it shows comes from the API, which still needs a
// token.
func TestPageIsServedWithoutATokenButNotTheAPI(t *testing.T) {
	t.Parallel()
	tokens, err := esthttp.ParseTokens("dashboard:read:s3cr3t-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{Tokens: tokens, OpenAPI: api.OpenAPI}))
	t.Cleanup(srv.Close)
	for path, want := range map[string]int{"/": 200, "/events": 401, "/streams": 401, "/openapi.yaml": 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without a token: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestPageSecurityHeaders: the Content-Security-Policy allows the page's
// own inline script and style by hash and nothing else inline, only this
// origin to connect to, and no framing; the page holds no inline event
// handlers, which such a policy would block.
func TestPageSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil, teststore.OpenSQLite(t, t.TempDir()))
	r := s.do("GET", "/", "")
	expectStatus(t, "page", r, 200)
	for name, want := range map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"X-Frame-Options":            "DENY",
		"Referrer-Policy":            "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin",
		"Cache-Control":              "no-cache",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("GET /: %s %q, want %q", name, got, want)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q allows something unsafe", csp)
	}
	body := string(r.body)
	for _, block := range []struct{ directive, tag string }{{"script-src", "script"}, {"style-src", "style"}} {
		re := regexp.MustCompile(`(?s)<` + block.tag + `>(.*?)</` + block.tag + `>`)
		m := re.FindAllStringSubmatch(body, -1)
		if len(m) != 1 {
			t.Fatalf("the page holds %d <%s> blocks, want 1", len(m), block.tag)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		want := block.directive + " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "';"
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q does not allow the page's <%s> block: want %q", csp, block.tag, want)
		}
	}
	if n := strings.Count(body, "<script"); n != 1 {
		t.Errorf("the page holds %d script tags, want 1", n)
	}
	markup := regexp.MustCompile(`(?s)<script>.*?</script>|<style>.*?</style>`).ReplaceAllString(body, "")
	if m := regexp.MustCompile(`(?i)\son[a-z]+\s*=|javascript:|\sstyle\s*=`).FindString(markup); m != "" {
		t.Errorf("the page holds %q: inline handlers and style attributes are blocked by its policy", m)
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`).FindString(body); m != "" {
		t.Errorf("the page refers to another origin (%q); it must load everything from this one", m)
	}
}

// TestPageCarriesTheServersHeartbeat: the page takes a live connection on
// which nothing has come for a few heartbeats for lost, and opens another;
// it must know the heartbeat the server was started with
// (TRIBUTARY_HEARTBEAT), which the page carries in a meta element, its
// script's hash unchanged. Pages for two heartbeats have two ETags.
func TestPageCarriesTheServersHeartbeat(t *testing.T) {
	t.Parallel()
	etags := map[string]time.Duration{}
	for heartbeat, want := range map[time.Duration]string{0: "15000", 750 * time.Millisecond: "750", 2 * time.Minute: "120000"} {
		srv := httptest.NewServer(esthttp.New(teststore.OpenSQLite(t, t.TempDir()), esthttp.Options{Heartbeat: heartbeat}))
		t.Cleanup(srv.Close)
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		meta := regexp.MustCompile(`<meta name="tributary-heartbeat" content="([^"]*)">`).FindSubmatch(body)
		if meta == nil || string(meta[1]) != want {
			t.Errorf("the page of a server with a heartbeat of %s carries %q, want a tributary-heartbeat meta element with %s (ms)", heartbeat, meta, want)
		}
		etag := resp.Header.Get("ETag")
		if other, ok := etags[etag]; ok {
			t.Errorf("the pages for heartbeats of %s and %s have the same ETag %s", heartbeat, other, etag)
		}
		etags[etag] = heartbeat
	}
}

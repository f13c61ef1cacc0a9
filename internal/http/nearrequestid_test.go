package http_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/testlog"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAClientsRequestIdIsAnsweredAsSentWhateverTokenItResembles: a
// client's own X-Request-Id that shared 8 characters in a row with a known
// token (a token cut short, a retest's fix) was answered with a fresh id
// instead, and one that shared none was echoed: without a token, on any
// route (/healthz, whose 2xx is not even logged), the answer told whether
// the id held a piece of a token, an oracle that gave a whole token back
// in seconds (the attacker's F5). The answer now never depends on the
// tokens: a validly shaped id comes back as sent, the exact token too (the
// client sent it), and the answer is otherwise the same as for an id that
// shares nothing; only the log withholds such an id, writing a marker in
// its place.
func TestAClientsRequestIdIsAnsweredAsSentWhateverTokenItResembles(t *testing.T) {
	t.Parallel()
	const secret = "writetoken-abcdefghij0123456789"
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(unavailableStore{teststore.SQLite.Open(t)}, esthttp.Options{
		Tokens: []esthttp.Token{{Name: "svc", Role: esthttp.RoleWrite, Secret: secret}},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	const far = "order-import-7f3a"
	near := []string{
		"writetoken-abcdefghij012345", // cut short
		"WRITETOKEN-ABCDEFGHIJ",       // cut short, in another case
		"xx-abcdefghij01-yy",          // a piece of it inside
		secret,                        // the token itself
	}
	// answer is what a client sees of one request, but for its Date and
	// X-Request-Id, and whether that id was the one sent.
	answer := func(path, token, id string) (string, bool) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		echoed := resp.Header.Get("X-Request-Id") == id
		resp.Header.Del("Date")
		resp.Header.Del("X-Request-Id")
		return fmt.Sprintf("%d %v %s", resp.StatusCode, resp.Header, body), echoed
	}
	routes := []struct{ path, token string }{
		{"/healthz", ""},    // no token, not logged when it passes
		{"/events", ""},     // 401
		{"/events", secret}, // 200
		{"/streams/0190f4b2-7a3c-7d1e-8f00-2c5b1a9e4d10", secret}, // 503: a "request failed" line too
	}
	for _, rt := range routes {
		want, echoed := answer(rt.path, rt.token, far)
		if !echoed {
			t.Errorf("GET %s with X-Request-Id %s: not answered with the id sent", rt.path, far)
		}
		for _, id := range near {
			got, echoed := answer(rt.path, rt.token, id)
			if !echoed {
				t.Errorf("GET %s with X-Request-Id %s (near a token): not answered with the id sent; an answer that depends on the tokens tells a client about them", rt.path, id)
			}
			if got != want {
				t.Errorf("GET %s with X-Request-Id %s (near a token) answered\n%s\nwhere an id near no token is answered\n%s", rt.path, id, got, want)
			}
		}
	}
	// Each near id: an access line for /events with a token, one without,
	// and the 503's access line and "request failed" line; the far id as
	// many, written as sent.
	want := 4 * (len(near) + 1)
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), `"request_id":`) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if n := strings.Count(out, `"request_id":"`+far+`"`); n != 4 {
		t.Errorf("%d lines with the client's own id %s, want 4 (an id near no token is logged as sent):\n%s", n, far, out)
	}
	for _, id := range near {
		marker := fmt.Sprintf(`"request_id":"<withheld: %d bytes like an access token>"`, len(id))
		if !strings.Contains(out, marker) {
			t.Errorf("no line with %s for the id %s near a token:\n%s", marker, id, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if p := sharedPiece(line, secret); p != "" {
			t.Errorf("the log holds %q of the token: %s", p, line)
		}
	}
}

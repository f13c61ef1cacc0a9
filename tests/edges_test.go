package tests

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
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
	forEachBackend(t, func(t *testing.T, env []string) {
		const reader, other = "log-reader-secret-0001", "log-other-secret-0002"
		srv := startServer(t, append(env, "TRIBUTARY_API_TOKENS=dashboard:read:"+reader+",other:read:"+other)...)
		id := newID()
		secrets := []string{reader, other}
		secret := func() string {
			s := fmt.Sprintf("log-test-secret-%04d", len(secrets)+1)
			secrets = append(secrets, s)
			return s
		}
		requireStatus(t, srv.get(t, "/events?access_token="+reader), http.StatusOK)
		requireStatus(t, srv.get(t, "/events?access%5Ftoken="+other), http.StatusOK)
		requireStatus(t, srv.get(t, "/events?access_token="+secret(), "Authorization", "Bearer "+reader), http.StatusOK)
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
	forEachBackend(t, func(t *testing.T, env []string) {
		srv := startServer(t, env...)
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
			r := srv.get(t, "/healthz", "X-Request-Id", tc.id)
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

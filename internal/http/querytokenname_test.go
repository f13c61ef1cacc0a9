package http_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnEmptyOrMisspeltQueryTokenIsToldWhatIsWrong: with tokens on, an
// empty ?access_token= (a variable not set) or a token under a name in
// another case (?ACCESS_TOKEN=) was the 401 of no token at all, telling
// the client to send ?access_token=<token>, as it had; the open server
// answers both with a 400 that names the problem. The 401 now says what
// is wrong, quoting the name but never the value sent.
func TestAnEmptyOrMisspeltQueryTokenIsToldWhatIsWrong(t *testing.T) {
	t.Parallel()
	const secret = "r-0123456789abcdef"
	tokens, err := esthttp.ParseTokens("dashboard:read:" + secret)
	if err != nil {
		t.Fatal(err)
	}
	s := serveWith(t, teststore.SQLite.Open(t), esthttp.Options{Tokens: tokens})
	for _, tc := range []struct {
		query string
		says  []string
	}{
		{"access_token=", []string{"?access_token= is empty"}},
		{"ACCESS_TOKEN=" + secret, []string{`"ACCESS_TOKEN"`, "access_token, in lower case"}},
		{"Access_Token=nope", []string{`"Access_Token"`, "access_token, in lower case"}},
		{"", []string{"this server needs an access token"}},
	} {
		r := s.do("GET", "/streams?"+tc.query, "")
		body := r.body
		var p struct{ Detail string }
		if err := json.Unmarshal(body, &p); err != nil || r.status != http.StatusUnauthorized {
			t.Errorf("?%s: %d %s; want a 401 problem", tc.query, r.status, body)
			continue
		}
		for _, say := range tc.says {
			if !strings.Contains(p.Detail, say) {
				t.Errorf("?%s: detail %q; want it to say %q", tc.query, p.Detail, say)
			}
		}
		if strings.Contains(string(body), secret) || strings.Contains(string(body), "nope") {
			t.Errorf("?%s: %s; want the value sent never echoed", tc.query, body)
		}
		if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="tributary"` {
			t.Errorf("?%s: WWW-Authenticate %q; want the challenge of no token", tc.query, got)
		}
	}
}

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

// TestTheLogShowsAPrefixAProxyDidNotStrip: a reverse proxy that forgets
// to strip the prefix it serves the API under sends /tributary/streams/…,
// every request is a 404, and the access log wrote the prefix as
// <invalid: 9 bytes>, hiding the one word that says why (an operator
// tester, F24). A segment that is a plain word (lowercase letters, each
// part ending in at most two digits, joined by - _ or ., fewer characters
// than a token's 16) is logged as it is now; one that could be a token or
// a piece of one (a digit inside, a capital, 16 characters or more, 8
// shared with a known token) is still <invalid: N bytes>.
func TestTheLogShowsAPrefixAProxyDidNotStrip(t *testing.T) {
	t.Parallel()
	const secret = "abcdefghijklmnopqrstuvwxyz"
	id := uuid.NewString()
	for _, c := range []struct {
		name   string
		tokens []esthttp.Token
		sent   []string // targets
		want   []string // the "path" of each line, in order
	}{
		{"no access control", nil,
			[]string{
				"/tributary/", "/tributary/streams/" + id + "/events", "/api-v2/events", "/x/events",
				"/es.prod-eu2/events", "/my-event-store/", // plain words
				"/9c1e4b7a2f6d8e0/", "/Xk3bQ9zP/", "/tk_live-9c/", "/abcdefghijklmnop/", "/a--b/", "/v123/", "/-a/", // could be a token
			},
			[]string{
				"/tributary/", "/tributary/streams/" + id + "/events", "/api-v2/events", "/x/events",
				"/es.prod-eu2/events", "/my-event-store/",
				"/<invalid: 15 bytes>/", "/<invalid: 8 bytes>/", "/<invalid: 10 bytes>/", "/<invalid: 16 bytes>/",
				"/<invalid: 4 bytes>/", "/<invalid: 4 bytes>/", "/<invalid: 2 bytes>/",
			}},
		{"a known token", []esthttp.Token{{Name: "app", Role: esthttp.RoleRead, Secret: secret}},
			[]string{"/tributary/", "/bcdefghijk/events", "/tributary/" + secret[3:11]},
			[]string{"/tributary/", "/<invalid: 10 bytes>/events", "/tributary/<invalid: 8 bytes>"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			logs := &testlog.Buffer{}
			srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
				OpenAPI: api.OpenAPI, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Tokens: c.tokens,
			}))
			t.Cleanup(srv.Close)
			for i, target := range c.sent {
				resp, err := http.Get(srv.URL + target)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				// one request at a time, so that the lines are in order
				deadline := time.Now().Add(30 * time.Second)
				for strings.Count(logs.String(), `"msg":"request"`) <= i && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
			}
			var lines []string
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, `"msg":"request"`) {
					lines = append(lines, line)
				}
			}
			if len(lines) != len(c.want) {
				t.Fatalf("%d access lines, want %d:\n%s", len(lines), len(c.want), logs.String())
			}
			for i, want := range c.want {
				if !strings.Contains(lines[i], `"path":"`+want+`"`) {
					t.Errorf("GET %s: want the path logged as %s, got:\n%s", c.sent[i], want, lines[i])
				}
			}
		})
	}
}

package http_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnEmptyAuthorizationHeaderCarriesNoToken: a header and
// ?access_token= together are a 400 (one token, sent one way), but an
// Authorization header that is empty (or only spaces, which HTTP trims)
// carries no credential, so a query token beside it is the request's one
// token, and is taken (a black-box tester asked which the README meant; it
// now says so). Alone, an empty header is a request with no token: the
// 401 saying one is needed. Two headers, one empty, are still two.
func TestAnEmptyAuthorizationHeaderCarriesNoToken(t *testing.T) {
	t.Parallel()
	const readSecret = "r-0123456789abcdef"
	tokens, err := esthttp.ParseTokens("dashboard:read:" + readSecret)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{Tokens: tokens, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		what, query, headers string
		status               int
		detail               string // in the problem's detail, if any
	}{
		{"an empty header and a query token", "?access_token=" + readSecret, "Authorization:\r\n", http.StatusOK, ""},
		{"a header of spaces and a query token", "?access_token=" + readSecret, "Authorization:   \r\n", http.StatusOK, ""},
		{"an empty header alone", "", "Authorization:\r\n", http.StatusUnauthorized, "needs an access token"},
		{"an empty header and an empty query token", "?access_token=", "Authorization:\r\n", http.StatusUnauthorized, "?access_token= is empty"},
		{"an empty header and a bearer header", "", "Authorization:\r\nAuthorization: Bearer " + readSecret + "\r\n", http.StatusBadRequest, "send one Authorization header, not 2"},
		{"a bearer header and a query token", "?access_token=" + readSecret, "Authorization: Bearer " + readSecret + "\r\n", http.StatusBadRequest, "not both"},
	} {
		answers, _ := exchangeAll(t, addr, "GET /events"+tc.query+" HTTP/1.1\r\nHost: x\r\n"+tc.headers+"Connection: close\r\n\r\n")
		if len(answers) != 1 {
			t.Errorf("%s: answers %v; want one", tc.what, answers)
			continue
		}
		a := answers[0]
		var p struct{ Detail string }
		if a.status != tc.status || tc.detail != "" && (json.Unmarshal([]byte(a.body), &p) != nil || !strings.Contains(p.Detail, tc.detail)) {
			t.Errorf("%s: %v; want %d%s", tc.what, a, tc.status, map[bool]string{true: " saying " + tc.detail}[tc.detail != ""])
		}
	}
}

package http_test

import (
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

// TestANearTokenSentAsTheRequestIdIsNotTaken: a client's own X-Request-Id
// that is a known token was replaced by a fresh id, but one that is a
// token cut short (sharing 8 characters in a row with it) was kept, sent
// back and logged as the request's id (a retest). It is replaced too now;
// an id that shares nothing with a token is kept.
func TestANearTokenSentAsTheRequestIdIsNotTaken(t *testing.T) {
	t.Parallel()
	const secret = "writetoken-abcdefghij0123456789"
	logs := &testlog.Buffer{}
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		Tokens: []esthttp.Token{{Name: "svc", Role: esthttp.RoleWrite, Secret: secret}},
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		id   string
		kept bool
	}{
		{"writetoken-abcdefghij012345", false}, // cut short
		{"WRITETOKEN-ABCDEFGHIJ", false},       // cut short, in another case
		{"xx-abcdefghij01-yy", false},          // a piece of it inside
		{"order-import-7f3a", true},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-Request-Id", tc.id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-Id"); (got == tc.id) != tc.kept || got == "" {
			t.Errorf("X-Request-Id %s: answered with X-Request-Id %q; want it kept: %v", tc.id, got, tc.kept)
		}
	}
	want := 4
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), `"msg":"request"`) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, `"request_id":"order-import-7f3a"`) {
		t.Errorf("no access line with the client's own id order-import-7f3a:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if p := sharedPiece(line, secret); p != "" {
			t.Errorf("the log holds %q of the token: %s", p, line)
		}
	}
}

package http_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/uuid"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPreflightGrantsEveryLineOfItsRequestHeaders: a listed origin's
// preflight is allowed every request header it asks for, named back as
// asked. Access-Control-Request-Headers is a list (RFC 9110 §5.3: lines
// of the same field are one list), and only its first line was read: a
// name on a second line was not named back, nor was any when the first
// line named none the library could read ("", or only a name of symbols,
// "~"), and the browser refused the request. Every line's names are named
// back now. The store does not matter: SQLite.
func TestAPreflightGrantsEveryLineOfItsRequestHeaders(t *testing.T) {
	t.Parallel()
	const app = "https://app.example.com"
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{CORSOrigins: []string{app}}))
	t.Cleanup(srv.Close)
	events := srv.URL + "/streams/" + uuid.NewString() + "/events"
	for _, lines := range [][]string{
		{"x-a", "x-trace+id"},
		{"", "x-b"},
		{"~"},
		{"~", "x-c, authorization"},
	} {
		req, err := http.NewRequest(http.MethodOptions, events, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", app)
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		for _, line := range lines {
			req.Header.Add("Access-Control-Request-Headers", line)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != app {
			t.Errorf("a preflight from a listed origin asking for %q: %d with Access-Control-Allow-Origin %q; want 204 allowing it",
				lines, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			continue
		}
		var asked string
		for _, line := range lines {
			asked += line + ","
		}
		if missing := slices.DeleteFunc(notGranted(resp.Header, asked), func(name string) bool { return name == "" }); len(missing) > 0 {
			t.Errorf("a preflight from a listed origin asking for %q in %d lines: Access-Control-Allow-Headers %q; want each named; missing %q",
				lines, len(lines), resp.Header.Get("Access-Control-Allow-Headers"), missing)
		}
	}
}

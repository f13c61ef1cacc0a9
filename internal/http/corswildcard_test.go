package http_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAWildcardOriginAllowsOnlyOriginsOfItsSubdomains: an entry
// https://*.staging.example.com was matched as a bare prefix and suffix,
// so any Origin that began https:// and ended .staging.example.com was
// allowed, whatever lay between: a path (its host evil.com), a fragment,
// a query, a user, an empty label (the attacker's F1). An Origin is read
// as scheme://host[:port] now, its host of non-empty labels, before it is
// matched; a real subdomain, at any depth, and the exact entries still
// match, on a preflight and a GET alike.
func TestAWildcardOriginAllowsOnlyOriginsOfItsSubdomains(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{
		CORSOrigins: []string{"https://app.example.com", "https://*.staging.example.com", "http://*.dev.example.com:8080"},
	}))
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 30 * time.Second}
	allowed := func(method, origin string) string {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/events", nil)
		req.Header.Set("Origin", origin)
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "GET")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	for _, tc := range []struct {
		origin string
		allow  bool
	}{
		{"https://app.example.com", true},
		{"https://a.staging.example.com", true},
		{"https://a.b.staging.example.com", true},
		{"https://A-1.staging.example.com", true},
		{"http://a.dev.example.com:8080", true},
		{"https://staging.example.com", false},
		{"http://a.staging.example.com", false},
		{"https://a.staging.example.com:8443", false},
		{"http://a.dev.example.com", false},
		{"https://evil.com/.staging.example.com", false},
		{"https://evil.com#.staging.example.com", false},
		{"https://evil.com?.staging.example.com", false},
		{"https://user@x.staging.example.com", false},
		{"https://x..staging.example.com", false},
		{"https://.staging.example.com", false},
		{"https://evil.com\\.staging.example.com", false},
		{"https://evil.com%2F.staging.example.com", false},
		{"https://evil.com .staging.example.com", false},
		{"http://evil.com:1/.dev.example.com:8080", false},
		{"https://app.example.com/", false},
		{"https://app.example.com/x", false},
		{"https://user@app.example.com", false},
	} {
		for _, method := range []string{http.MethodOptions, http.MethodGet} {
			got := allowed(method, tc.origin)
			switch {
			case tc.allow && got != tc.origin:
				t.Errorf("%s from %s: Access-Control-Allow-Origin %q; want it allowed", method, tc.origin, got)
			case !tc.allow && got != "":
				t.Errorf("%s from %s: Access-Control-Allow-Origin %q; want it refused (no such origin of the entries')", method, tc.origin, got)
			}
		}
	}
}

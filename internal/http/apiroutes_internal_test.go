package http

import (
	"net/http"
	"slices"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestTheRefusalsRoutesAreTheAPIs: the cap's refusals judge a preflight
// by apiRoutes, a bare Server's routes; a route that depended on an option
// the bare Server lacks (tokens, origins, a feed) would be allowed by the
// API and refused past the cap, or the other way round. Whatever the
// options, the API's routes are those apiRoutes lists for its metrics.
func TestTheRefusalsRoutesAreTheAPIs(t *testing.T) {
	list := func(r chi.Routes) []string {
		var routes []string
		_ = chi.Walk(r, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			routes = append(routes, method+" "+route)
			return nil
		})
		slices.Sort(routes)
		return routes
	}
	m := metrics.New("test")
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"bare", Options{}},
		{"metrics", Options{Metrics: m}},
		{"tokens, origins and metrics", Options{Metrics: m, CORSOrigins: []string{"https://app.example.com"},
			Tokens: []Token{{Name: "app", Role: RoleWrite, Secret: "s3cr3t1s3cr3t1s3cr3t1"}}}},
	} {
		api, refusals := list(New(nil, tc.opts).router), list(apiRoutes(tc.opts.Metrics))
		if !slices.Equal(api, refusals) {
			t.Errorf("%s: the API's routes %q; the refusals' (apiRoutes) %q: want the same", tc.name, api, refusals)
		}
	}
}

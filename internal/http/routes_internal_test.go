package http

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/tributary-dev/tributary/internal/metrics"
)

// TestNoRoutePatternButTheRootEndsInASlash: every route is written out
// whole (routes), so a pattern routeFor or routesOn finds is the one chi's
// RoutePattern gives a GET of the same path, with no slash to trim. A route
// nested with Route would list its "/" as a trailing slash.
func TestNoRoutePatternButTheRootEndsInASlash(t *testing.T) {
	t.Parallel()
	s := New(nil, Options{Metrics: metrics.New("test")})
	n := 0
	_ = chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		n++
		if route != "/" && strings.HasSuffix(route, "/") {
			t.Errorf("%s %s ends in a slash: routeFor would label an OPTIONS of it otherwise than a GET", method, route)
		}
		return nil
	})
	if n == 0 {
		t.Fatal("chi.Walk listed no route")
	}
}

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

// TestRouteMatchingAllocatesNothing: an OPTIONS, a 405 and the label of a
// CORS preflight match the path against every route (routesOn, routeFor),
// and routeMatches split both into segments each time: two slices per
// route, per request (a review found it). It walks them in place now, and
// matches as before: segment by segment, a parameter any one non-empty
// segment, a trailing slash no route.
func TestRouteMatchingAllocatesNothing(t *testing.T) {
	// Not parallel: AllocsPerRun counts the whole process's allocations.
	for _, tc := range []struct {
		route, path string
		want        bool
	}{
		{"/", "/", true},
		{"/", "", false},
		{"/events", "/events", true},
		{"/events", "/events/", false},
		{"/events", "/event", false},
		{"/events", "/eventsx", false},
		{"/streams", "/streams/", false},
		{"/streams/{streamID}", "/streams/abc", true},
		{"/streams/{streamID}", "/streams/", false},
		{"/streams/{streamID}", "/streams", false},
		{"/streams/{streamID}", "/streams/abc/", false},
		{"/streams/{streamID}/events", "/streams/abc/events", true},
		{"/streams/{streamID}/events", "/streams//events", false},
		{"/streams/{streamID}/events", "/streams/a%2Fb/events", true},
		{"/streams/{streamID}/events", "/streams/abc/event", false},
		{"/streams/{streamID}/events/{version}", "/streams/abc/events/3", true},
		{"/streams/{streamID}/events/{version}", "/streams/abc/events/", false},
		{"/streams/{streamID}/events/{version}", "/streams/abc/events/3/4", false},
		{"/streams/{streamID}/events/{version}", "/streams/abc/events", false},
		{"/healthz", "/streams", false},
	} {
		if got := routeMatches(tc.route, tc.path); got != tc.want {
			t.Errorf("routeMatches(%q, %q) = %v, want %v", tc.route, tc.path, got, tc.want)
		}
		if n := testing.AllocsPerRun(100, func() { routeMatches(tc.route, tc.path) }); n != 0 {
			t.Errorf("routeMatches(%q, %q): %v allocations, want none", tc.route, tc.path, n)
		}
	}
}

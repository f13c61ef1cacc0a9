package http_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestEveryAnswerSaysHowItMayBeCached: with access control off, a read
// carried no Cache-Control (only a subscription and the page said
// no-cache), so a shared cache before the service (Varnish keeps such a
// GET two minutes by default) served a stream's old page, or its 404 from
// before it was created (a 404 is cacheable by default), to every client
// after; with access control on, the Authorization header kept shared
// caches from storing them, so the two differed. Every answer now says
// no-cache, a representation that any cache must check with the server
// before it reuses it (a read with an ETag is then answered 304), and
// every problem no-store, as it has nothing to check against; with access
// control on, off, and with a token in the URL (then private too). On
// both stores.
func TestEveryAnswerSaysHowItMayBeCached(t *testing.T) {
	t.Parallel()
	const secret = "r-0123456789abcdef"
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		for _, access := range []struct {
			name   string
			tokens string
			token  func(*http.Request) // how a request sends the token
			suffix string              // what the token's way adds to each value
		}{
			{name: "access control off", token: func(*http.Request) {}},
			{name: "a token in the header", tokens: "app:write:" + secret, token: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) }},
			{name: "a token in the URL", tokens: "app:write:" + secret, suffix: ", private", token: func(r *http.Request) {
				q := r.URL.Query()
				q.Set("access_token", secret)
				r.URL.RawQuery = q.Encode()
			}},
		} {
			t.Run(access.name, func(t *testing.T) {
				opts := esthttp.Options{OpenAPI: api.OpenAPI, Metrics: metrics.New("test")}
				if access.tokens != "" {
					opts.Tokens = mustParseTokens(t, access.tokens)
				}
				store, _, srv := liveServerOf(t, k, opts, nil)
				id := uuid.New()
				if _, err := store.Append(context.Background(), eventstore.AppendRequest{StreamID: id, StreamType: "order",
					Events: []eventstore.NewEvent{{Type: "A", Data: []byte(`{}`)}}}); err != nil {
					t.Fatal(err)
				}
				stream := "/streams/" + id.String()
				for _, tc := range []struct {
					method, path string
					header       map[string]string
					status       int
					want         string
				}{
					{"GET", stream, nil, http.StatusOK, "no-cache"},
					{"GET", stream + "/events", nil, http.StatusOK, "no-cache"},
					{"HEAD", stream + "/events", nil, http.StatusOK, "no-cache"},
					{"GET", stream + "/events", map[string]string{"If-None-Match": `"1"`}, http.StatusNotModified, "no-cache"},
					{"GET", stream + "/events/1", nil, http.StatusOK, "no-cache"},
					{"GET", "/events", nil, http.StatusOK, "no-cache"},
					{"GET", "/streams", nil, http.StatusOK, "no-cache"},
					{"GET", "/events", map[string]string{"Accept": "text/event-stream"}, http.StatusOK, "no-cache"},
					{"GET", "/openapi.yaml", nil, http.StatusOK, "no-cache"},
					{"GET", "/metrics", nil, http.StatusOK, "no-cache"},
					{"GET", "/", nil, http.StatusOK, "no-cache"},
					{"GET", "/healthz", nil, http.StatusOK, "no-cache"},
					{"GET", "/readyz", nil, http.StatusOK, "no-cache"},
					// Problems: a stream not created yet, a bad read, a
					// route that is not there, a method it does not take.
					{"GET", "/streams/" + uuid.NewString(), nil, http.StatusNotFound, "no-store"},
					{"GET", stream + "/events/2", nil, http.StatusNotFound, "no-store"},
					{"GET", "/events?after=zz", nil, http.StatusBadRequest, "no-store"},
					{"GET", "/nothing", nil, http.StatusNotFound, "no-store"},
					{"DELETE", stream, nil, http.StatusMethodNotAllowed, "no-store"},
				} {
					ctx, cancel := context.WithCancel(context.Background())
					req, _ := http.NewRequestWithContext(ctx, tc.method, srv.URL+tc.path, nil)
					for h, v := range tc.header {
						req.Header.Set(h, v)
					}
					if tc.path != "/" && tc.path != "/healthz" && tc.path != "/readyz" {
						access.token(req)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close() // a subscription's too
					cancel()
					want := tc.want + access.suffix
					if tc.path == "/" || tc.path == "/healthz" || tc.path == "/readyz" {
						want = tc.want // no token sent
					}
					if got := resp.Header.Get("Cache-Control"); resp.StatusCode != tc.status || got != want {
						t.Errorf("%s %s %v: %d with Cache-Control %q; want %d with %q", tc.method, tc.path, tc.header, resp.StatusCode, got, tc.status, want)
					}
				}
				// A refusal of access control: no token, or a wrong one.
				if access.tokens != "" {
					for _, path := range []string{stream, stream + "?access_token=wrong-0123456789abcdef"} {
						resp, err := http.Get(srv.URL + path)
						if err != nil {
							t.Fatal(err)
						}
						resp.Body.Close()
						want := "no-store"
						if strings.Contains(path, "access_token") {
							want += ", private"
						}
						if got := resp.Header.Get("Cache-Control"); resp.StatusCode != http.StatusUnauthorized || got != want {
							t.Errorf("GET %s: %d with Cache-Control %q; want 401 with %q", path, resp.StatusCode, got, want)
						}
					}
				}
			})
		}
	})
}

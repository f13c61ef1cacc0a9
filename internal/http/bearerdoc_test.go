package http_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/api"
	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/metrics"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestTheBearerSchemeNamesEveryRequestServedWithoutAToken: openapi.yaml's
// bearerAuth said every request but GET /healthz, GET /readyz and the page
// at GET / must carry a token, while GET /openapi.yaml and a CORS preflight
// (OPTIONS) are answered without one: a client generated from it, or a
// reader, took them for closed. Every GET of the document answered
// without a token with access control on is named there, and so is OPTIONS;
// and in the info's Authentication summary, which had left out
// /openapi.yaml.
func TestTheBearerSchemeNamesEveryRequestServedWithoutAToken(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	scheme := doc.Components.SecuritySchemes["bearerAuth"]
	if scheme == nil || scheme.Value == nil {
		t.Fatal("openapi.yaml has no bearerAuth scheme")
	}
	described := scheme.Value.Description
	_, summary, _ := strings.Cut(doc.Info.Description, "**Authentication**")
	// The summary ends at the next item: the loader hands the description
	// without the YAML block's indent, so an indented separator never
	// matched, and the summary ran on to the description's end, where the next
	// item's own `GET /` stood in for one left out of it.
	summary, _, found := strings.Cut(summary, "\n- **")
	if !found || summary == "" {
		t.Fatal("openapi.yaml's info has no **Authentication** summary")
	}
	tokens, err := esthttp.ParseTokens("dashboard:read:r-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	store := teststore.SQLite.Open(t)
	feed := fanout.New(store, fanout.Options{PollInterval: 10 * time.Millisecond})
	go feed.Run(t.Context())
	const origin = "https://app.example"
	srv := httptest.NewServer(esthttp.New(store, esthttp.Options{Tokens: tokens, Feed: feed, Heartbeat: time.Hour,
		OpenAPI: api.OpenAPI, CORSOrigins: []string{origin}, Metrics: metrics.New("test")}))
	t.Cleanup(srv.Close)
	open := 0
	for path, item := range doc.Paths.Map() {
		if item.Get == nil {
			continue
		}
		target := strings.NewReplacer("{stream_id}", uuid.NewString(), "{version}", "1").Replace(path)
		resp, err := http.Get(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			continue
		}
		open++
		if !strings.Contains(described, "`GET "+path+"`") {
			t.Errorf("GET %s without a token: %d, but bearerAuth's description does not name it (`GET %s`) among the requests served without one:\n%s",
				path, resp.StatusCode, path, described)
		}
		// The document's summary of authentication named /healthz,
		// /readyz and / but not /openapi.yaml.
		if !strings.Contains(summary, "`GET "+path+"`") {
			t.Errorf("GET %s without a token: %d, but the info's Authentication summary does not name it (`GET %s`):\n%s",
				path, resp.StatusCode, path, summary)
		}
	}
	if open < 4 {
		t.Errorf("%d GETs of openapi.yaml served without a token; want at least /, /healthz, /readyz and /openapi.yaml", open)
	}
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/events", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodGet)
	req.Header.Set("Access-Control-Request-Headers", "authorization")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized && !strings.Contains(described, "`OPTIONS`") {
		t.Errorf("a CORS preflight (OPTIONS) without a token: %d, but bearerAuth's description does not name `OPTIONS` among the requests served without one:\n%s",
			resp.StatusCode, described)
	}
}

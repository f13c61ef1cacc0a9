package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/internal/eventstore"
	esthttp "github.com/tributary-dev/tributary/internal/http"
)

// serveWith serves store over HTTP with opts for one test, every response
// checked against openapi.yaml (newServer with options of the test's own).
func serveWith(t *testing.T, store eventstore.Store, opts esthttp.Options) *testServer {
	t.Helper()
	srv := httptest.NewServer(esthttp.New(store, opts))
	t.Cleanup(srv.Close)
	return &testServer{t: t, url: srv.URL, client: &http.Client{Transport: newContract(t), Timeout: 30 * time.Second}, store: store}
}

// preflightPastTheCap sends app's preflight for asked (a GET, the request
// headers named in asked) to b while c's blocked request holds the client's
// one place, and returns the answer of the connection-cap refusal. Until
// the blocked request holds that place, a preflight reaches the plain
// handler (200 "ok", no CORS) and is closed after: it is sent again.
func preflightPastTheCap(t *testing.T, b *boundedServer, app, asked string) (*http.Response, string) {
	t.Helper()
	for {
		pre := dialFrom(t, b.addr, "127.0.0.1")
		if _, err := io.WriteString(pre, "OPTIONS / HTTP/1.1\r\nHost: test\r\nConnection: close\r\nOrigin: "+app+
			"\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: "+asked+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, body := pre.answer(t)
		pre.Close()
		if resp.StatusCode == http.StatusOK && body == "ok" {
			continue
		}
		return resp, body
	}
}

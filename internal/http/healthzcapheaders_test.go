package http_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAtTheBoundALivenessProbesAnswerSaysHowItMayBeCached: at a connection
// bound, /healthz is answered 200 on the refused connection as its handler
// answers it. The handler's answer says Cache-Control: no-cache, as every
// answer does, and Vary: Accept, since an Accept taking only
// text/event-stream is answered 406; the refused connection's said
// neither, so a shared cache (Varnish keeps a 200 without Cache-Control two
// minutes) could keep it, and give it to an EventSource for its 406. It
// says both now, as the handler does.
func TestAtTheBoundALivenessProbesAnswerSaysHowItMayBeCached(t *testing.T) {
	store := teststore.SQLite.Open(t)
	api := httptest.NewServer(esthttp.New(store, esthttp.Options{}))
	t.Cleanup(api.Close)
	resp, err := http.Get(api.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantCC, wantVary := resp.Header.Get("Cache-Control"), varyNames(resp.Header)
	if wantCC == "" || !slices.Contains(wantVary, "Accept") {
		t.Fatalf("the handler's GET /healthz: Cache-Control %q, Vary %q; the test expects no-cache and Accept", wantCC, wantVary)
	}

	b := startFullBound(t)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		probe := dialFrom(t, b.addr, "127.0.0.3")
		probe.sendMethod(t, method, "/healthz")
		resp, _ := probe.answerTo(t, method)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s /healthz at the connection bound: %d; want 200", method, resp.StatusCode)
		}
		if cc, vary := resp.Header.Get("Cache-Control"), varyNames(resp.Header); cc != wantCC || !slices.Equal(vary, wantVary) {
			t.Errorf("%s /healthz at the connection bound: Cache-Control %q, Vary %q; want %q and %q, as its handler answers it",
				method, cc, vary, wantCC, wantVary)
		}
	}
}

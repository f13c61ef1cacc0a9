package http_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestThePagesPreconditionFailedSaysItsTagChangesWithTheHeartbeat: the
// page at / carries the server's heartbeat, and its ETag is its bytes'
// hash: two instances of one binary with another TRIBUTARY_HEARTBEAT
// answer two tags. The 412 of an If-Match naming the other's said the tag
// "changes with the binary", which a user running one binary everywhere
// could not square with it. It names the heartbeat too, and so does
// openapi.yaml's example of it.
func TestThePagesPreconditionFailedSaysItsTagChangesWithTheHeartbeat(t *testing.T) {
	t.Parallel()
	tagOf := func(heartbeat time.Duration) (*httptest.Server, string) {
		t.Helper()
		srv := httptest.NewServer(esthttp.New(teststore.SQLite.Open(t), esthttp.Options{OpenAPI: api.OpenAPI, Heartbeat: heartbeat}))
		t.Cleanup(srv.Close)
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return srv, resp.Header.Get("ETag")
	}
	a, tagA := tagOf(15 * time.Second)
	_, tagB := tagOf(time.Second)
	if tagA == "" || tagA == tagB {
		t.Fatalf("the page's ETag with heartbeats of 15 s and 1 s: %q and %q; the test expects two tags", tagA, tagB)
	}
	s := &testServer{t: t, url: a.URL, client: &http.Client{Timeout: 30 * time.Second}}
	r := s.do("GET", "/", "", "If-Match", tagB)
	detail, _ := r.json(t)["detail"].(string)
	if r.status != 412 || !strings.Contains(detail, "TRIBUTARY_HEARTBEAT") {
		t.Errorf("GET / with If-Match the page's tag at another heartbeat: %d %q; want 412 saying the tag changes with TRIBUTARY_HEARTBEAT too", r.status, detail)
	}
	m := regexp.MustCompile(`detail: '(If-Match [^\n]*the page''s entity tag[^\n]*)'`).FindStringSubmatch(string(api.OpenAPI))
	if m == nil || !strings.Contains(m[1], "TRIBUTARY_HEARTBEAT") {
		t.Errorf("openapi.yaml's example of the page's 412: %q; want it to say the tag changes with TRIBUTARY_HEARTBEAT too", m)
	}
}

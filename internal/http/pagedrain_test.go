package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-dev/tributary/api"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAPageReadWaitingForAMinPositionEndsAtShutdown: a page read (not a
// subscription) with Tributary-Min-Position behind a lagging read replica
// waited on its request's context, which a shutdown does not end: the
// drain was held for the whole wait (5 s), and the client then got "not
// readable here yet: try again shortly" from a server going away. Shutdown
// now ends the wait, and the read is a 503 with Retry-After saying the
// server is shutting down, for the client to try again, elsewhere. On both
// stores, the log, a stream, its events, an event and the streams.
func TestAPageReadWaitingForAMinPositionEndsAtShutdown(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		reads := &startReads{Store: store, calls: map[string]int{}} // counts each request's reads of the head
		h := esthttp.New(reads, esthttp.Options{OpenAPI: api.OpenAPI, Replica: &primaryAhead{store: store, lag: 5}, RequestTimeout: time.Hour})
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), startPathKey{}, r.URL.Path)))
		}))
		srv.Config.ConnContext = esthttp.ConnContext // as the binary does
		srv.Config.RegisterOnShutdown(h.CloseSubscriptions)
		srv.Start()
		t.Cleanup(srv.Close)
		id, head := appendOneEvent(t, store)
		paths := []string{"/events", "/streams", "/streams/" + id.String(), "/streams/" + id.String() + "/events", "/streams/" + id.String() + "/events/1"}

		type answer struct {
			path        string
			status      int
			retryAfter  string
			detail, err string
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // bounds a hang only
		defer cancel()
		answers := make(chan answer, len(paths))
		for _, path := range paths {
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
				req.Header.Set(esthttp.MinPositionHeader, fmt.Sprint(head+2)) // the primary has it; the replica lags
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					answers <- answer{path: path, err: err.Error()}
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				var p struct{ Detail string }
				_ = json.Unmarshal(body, &p)
				answers <- answer{path, resp.StatusCode, resp.Header.Get("Retry-After"), p.Detail, ""}
			}()
		}
		// Each waits once it has read the head twice.
		for _, path := range paths {
			for reads.count(path) < 2 {
				select {
				case <-ctx.Done():
					t.Fatalf("GET %s never began to wait", path)
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		shut := make(chan error, 1)
		go func() { shut <- srv.Config.Shutdown(ctx) }()
		for range paths {
			a := <-answers
			if a.err != "" || a.status != http.StatusServiceUnavailable || a.retryAfter == "" || !strings.Contains(a.detail, "shutting down") {
				t.Errorf("GET %s with %s %d, waiting for a lagging replica when shutdown begins: %d Retry-After %q %q (%s); "+
					"want a 503 with Retry-After saying the server is shutting down", a.path, esthttp.MinPositionHeader, head+2, a.status, a.retryAfter, a.detail, a.err)
			}
		}
		if err := <-shut; err != nil {
			t.Errorf("shutdown with page reads waiting for a lagging replica: %v", err)
		}
	})
}

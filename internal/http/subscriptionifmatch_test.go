package http_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestBothSubscriptionsTakeIfMatchAlike: the log's subscription answered
// If-Match "1" 412 (it has no entity tag, so no tag matches: RFC 9110
// 13.1.1) and opened for If-Match *, while a stream's answered both 400 as
// "only for pages": the same header, on the same kind of answer, two
// statuses, and * (which holds wherever there is an answer) refused. (From
// review2http.) A subscription of either has no entity tag: * holds, any
// tag is a 412 saying so; If-None-Match on a stream's stays a 400 (its
// page would answer 304, which no subscription can). On both stores.
func TestBothSubscriptionsTakeIfMatchAlike(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := k.Open(t)
		h := esthttp.New(store, esthttp.Options{Feed: fanout.New(store, fanout.Options{})})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		t.Cleanup(h.CloseSubscriptions)
		contract := newContract(t)
		id := uuid.NewString()
		resp, err := http.Post(srv.URL+"/streams/"+id+"/events", "application/json",
			strings.NewReader(`{"stream_type":"order","events":[{"type":"A","data":1}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("append: %d; want 201", resp.StatusCode)
		}
		for _, c := range []struct {
			path, name, value string
			want              int
			says              string
		}{
			{"/events", "If-Match", `"1"`, 412, "no entity tag"},
			{"/streams/" + id + "/events", "If-Match", `"1"`, 412, "no entity tag"},
			{"/streams/" + uuid.NewString() + "/events", "If-Match", `W/"1", "2"`, 412, "no entity tag"},
			{"/events", "If-Match", "*", 200, ""},
			{"/streams/" + id + "/events", "If-Match", "*", 200, ""},
			{"/streams/" + id + "/events", "If-None-Match", `"1"`, 400, "only for pages"},
		} {
			what := "a subscription of " + c.path + " with " + c.name + ": " + c.value
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+c.path, nil)
			req.Header.Set("Accept", "text/event-stream")
			req.Header.Set(c.name, c.value)
			client := http.DefaultClient
			if c.want != 200 {
				// Checked against openapi.yaml (which reads the whole body).
				client = &http.Client{Transport: contract}
			}
			resp, err := client.Do(req)
			if err != nil {
				cancel()
				t.Fatalf("%s: %v", what, err)
			}
			var body []byte
			if c.want != 200 {
				body, _ = io.ReadAll(resp.Body)
			}
			resp.Body.Close()
			cancel()
			if resp.StatusCode != c.want || !strings.Contains(string(body), c.says) {
				t.Errorf("%s: %d %s; want %d saying %q", what, resp.StatusCode, body, c.want, c.says)
			}
			if c.want == 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Errorf("%s: Content-Type %q; want the subscription opened", what, resp.Header.Get("Content-Type"))
			}
		}
	})
}

package http_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/fanout"
	esthttp "github.com/tributary-dev/tributary/internal/http"
	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestAnIfMatchOnAResourceWithoutAnEntityTagNeverHolds: a page of the log,
// a subscription of it, one event and a page of streams have no entity tag (only a stream
// and its pages have one, its version), and took If-Match "N" and answered
// 200 as if it were not sent. RFC 9110 13.1.1: a list of tags holds only
// if one matches the representation's; none can, so it is a 412 before
// any read, as a stream page answers a tag that does not match. * holds
// for any resource that exists, and a missing event stays a 404 (13.2.1:
// preconditions are evaluated only where the answer would be 2xx).
func TestAnIfMatchOnAResourceWithoutAnEntityTagNeverHolds(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		id := uuid.NewString()
		expectStatus(t, "append", s.do("POST", "/streams/"+id+"/events", `{"stream_type":"order","events":[{"type":"A","data":1}]}`), 201)
		for _, c := range []struct {
			method, path, accept, ifMatch string
			want                          int
		}{
			{"GET", "/events", "", `"1"`, 412},
			{"HEAD", "/events", "", `"1"`, 412},
			{"GET", "/streams/" + id + "/events/1", "", `"1"`, 412},
			{"HEAD", "/streams/" + id + "/events/1", "", `W/"1", "2"`, 412},
			{"GET", "/streams", "", `"1"`, 412},
			{"GET", "/streams?stream_type=order", "", "*", 200},
			{"GET", "/events", "", "*", 200},
			{"GET", "/streams/" + id + "/events/1", "", "*", 200},
			{"GET", "/streams/" + id + "/events/2", "", `"1"`, 404},
		} {
			what := c.method + " " + c.path + " If-Match: " + c.ifMatch
			if c.accept != "" {
				what += " (Accept: " + c.accept + ")"
			}
			r := s.do(c.method, c.path, "", "If-Match", c.ifMatch, "Accept", c.accept)
			if r.status != c.want {
				t.Errorf("%s: status %d, want %d\nbody: %s", what, r.status, c.want, r.body)
				continue
			}
			if c.want == 412 && c.method == "GET" {
				if p := r.json(t); p["type"] != "https://tributary.dev/problems/precondition-failed" ||
					!strings.Contains(p["detail"].(string), "no entity tag") {
					t.Errorf("%s: problem %v; want precondition-failed, saying it has no entity tag", what, p)
				}
			}
		}
	})
}

// TestALogSubscriptionRefusesAnIfMatchThatCannotHold: the subscription of
// the log took If-Match "N" and ran; like its page's, it is a 412 before
// any read of the store (panicStore), and If-Match * opens it.
func TestALogSubscriptionRefusesAnIfMatchThatCannotHold(t *testing.T) {
	t.Parallel()
	h := esthttp.New(panicStore{}, esthttp.Options{Feed: fanout.New(teststore.SQLite.Open(t), fanout.Options{})})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/events?after=0", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("If-Match", `"1"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 412 || !strings.Contains(string(body), "no entity tag") {
		t.Errorf("a subscription of the log with If-Match: \"1\": %d %s; want a 412 saying it has no entity tag", resp.StatusCode, body)
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestRequestsCutAtTheStopsTimeoutAreAnswered503WithRetryAfter: a request
// still running at the end of the stop's timeout (an append and a read
// waiting in the store) had its connection closed under it: the client had
// no answer at all (curl's 000), and could not tell a stop from a crash.
// Each that has written nothing yet is answered 503, a problem with
// Retry-After that says the server is stopping (another instance can serve
// it) and, for the append, that it was not written, before its connection
// closes; its access line says 503 with the bytes it sent. On both stores.
func TestRequestsCutAtTheStopsTimeoutAreAnswered503WithRetryAfter(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		store := &heldUntilCut{closableStore: k.Open(t).(closableStore), entered: make(chan string, 2)}
		// Its last second is the cut's: half of it for the handlers to answer.
		srv := serveToStop(t, store, context.Background(), 5*time.Second, 60*time.Second)
		base, stop, done, logs := srv.base, srv.stop, srv.done, srv.logs
		type answer struct {
			what       string
			status     int
			retryAfter string
			ctype      string
			body       string
			err        error
		}
		answers := make(chan answer, 2)
		ask := func(what string, req *http.Request) {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers <- answer{what: what, err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			answers <- answer{what, resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), string(b), err}
		}
		appendReq, _ := http.NewRequest(http.MethodPost, base+"/streams/"+uuid.NewString()+"/events",
			strings.NewReader(`{"stream_type":"t","events":[{"type":"Held","data":{}}]}`))
		appendReq.Header.Set("Content-Type", "application/json")
		readReq, _ := http.NewRequest(http.MethodGet, base+"/streams/"+uuid.NewString(), nil)
		go ask("the append", appendReq)
		go ask("the read", readReq)
		for range 2 {
			select {
			case <-store.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the append and the read never reached the store")
			}
		}
		stop() // SIGTERM: the drain waits for both until its timeout
		for range 2 {
			a := <-answers
			if a.err != nil {
				t.Errorf("%s, cut at the stop's timeout: no answer (%v); want a 503 with Retry-After before its connection closes", a.what, a.err)
				continue
			}
			var p struct{ Type, Detail string }
			if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || a.ctype != "application/problem+json" ||
				json.Unmarshal([]byte(a.body), &p) != nil || !strings.Contains(p.Detail, "stopping") {
				t.Errorf("%s, cut at the stop's timeout: %d, Retry-After %q, %q %s; want a 503 problem with Retry-After saying the server is stopping",
					a.what, a.status, a.retryAfter, a.ctype, a.body)
			}
			if a.what == "the append" && !strings.Contains(p.Detail, "not written") {
				t.Errorf("the append, cut: detail %q; want it to say the append was not written", p.Detail)
			}
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not return after the stop's timeout")
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			var l struct {
				Msg, Level, Path string
				Status, Bytes    int
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "request" {
				continue
			}
			if l.Status != http.StatusServiceUnavailable || l.Level != "WARN" || l.Bytes == 0 {
				t.Errorf("%s, answered 503 as it was cut: logged %d at %s with %d bytes; want 503 at WARN with the bytes of its problem", l.Path, l.Status, l.Level, l.Bytes)
			}
		}
	})
}

package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// firstEventOnly is a subscription's answer up to the end of its first
// event's frame, then its end, as a restart of the server ends it: the
// client resumes.
type firstEventOnly struct {
	body io.ReadCloser
	seen []byte
	done bool
}

func (f *firstEventOnly) Read(p []byte) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	n, err := f.body.Read(p)
	before := len(f.seen)
	f.seen = append(f.seen, p[:n]...)
	if i := bytes.Index(f.seen, []byte("id: 1\n")); i >= 0 {
		if end := bytes.Index(f.seen[i:], []byte("\n\n")); end >= 0 {
			f.done = true
			return i + end + 2 - before, nil
		}
	}
	return n, err
}

func (f *firstEventOnly) Close() error { return f.body.Close() }

// TestASubscriptionResumedThroughAProxyThatDropsAcceptOnceGoesOn: one
// proxy (or instance) of several that drops Accept answers a subscription
// with a page of events, which Subscribe waits out pageAnswers times, as
// the others may serve it. Since the server refused Last-Event-ID on a
// page (400), a resumption, which sends it beside after= or from=, was
// answered 400 there, and Subscribe, taking Tributary's 400 for a refusal
// no retry mends, ended at once with ErrBadRequest. A page whose from= or
// after= is the Last-Event-ID's starting point starts where the
// subscription would: the server answers it, and the subscription goes on
// with its next connection. Against the real handler, on both stores,
// for the log and for a stream.
func TestASubscriptionResumedThroughAProxyThatDropsAcceptOnceGoesOn(t *testing.T) {
	t.Parallel()
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		h := tributaryHandler(t, k)
		for _, stream := range []bool{false, true} {
			var requests atomic.Int64
			backend := httptest.NewServer(h)
			t.Cleanup(backend.Close)
			to, _ := url.Parse(backend.URL)
			srv := httptest.NewServer(&httputil.ReverseProxy{
				Rewrite: func(pr *httputil.ProxyRequest) {
					pr.SetURL(to)
					if pr.In.Method == http.MethodGet && requests.Add(1) == 2 {
						pr.Out.Header.Del("Accept") // the resumption, through the proxy that drops it
					}
				},
				ModifyResponse: func(res *http.Response) error {
					if res.Request.Method == http.MethodGet && requests.Load() == 1 {
						res.Body = &firstEventOnly{body: res.Body} // the first connection
					}
					return nil
				},
				FlushInterval: -1,
			})
			t.Cleanup(srv.Close)
			c, err := New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			id := uuid.New()
			if _, err := c.Append(ctx, StreamRef{ID: id, Type: "order"}, Any, NewEvent{Type: "A", Data: 1}, NewEvent{Type: "B", Data: 2}); err != nil {
				t.Fatal(err)
			}
			opts := SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
			what := "the log"
			if stream {
				opts.StreamID, what = id, "a stream"
			}
			var types []string
			var last error
			for m, err := range c.Subscribe(ctx, opts) {
				if err != nil {
					last = err
					break
				}
				if !m.CaughtUp && m.Event.StreamID == id {
					if types = append(types, m.Event.Type); len(types) == 2 {
						break
					}
				}
			}
			cancel()
			if len(types) != 2 || last != nil {
				t.Errorf("a subscription of %s resumed once through a proxy that drops Accept: got %v, then %v after %d requests; want both events, the page answer waited out",
					what, types, last, requests.Load())
			}
		}
	})
}

package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// countingTransport counts the requests sent to path through next.
type countingTransport struct {
	next http.RoundTripper
	path string
	sent atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == c.path {
		c.sent.Add(1)
	}
	return c.next.RoundTrip(r)
}

// refusingTransport is a caller's transport that refuses every request,
// as a policy of its own would.
type refusingTransport struct{}

func (refusingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("refused by the caller's policy")
}

// TestAReadIsSentAgainOnlyForATransportErrorThatMayPass: WithReadRetries
// sent a read that got no answer again whatever the transport's error,
// the caller's own permanent ones too (its RoundTripper refusing, a
// proxy's 407 to CONNECT, a redirect to a scheme the transport does not
// speak, a Location that is no URL), n times with a backoff up to 30 s
// each, to meet the same error each time. Only an error that may pass
// (the connection refused, reset or closed before the answer, a timeout,
// over HTTP/2 a GOAWAY or a stream reset) is sent again now: the others
// come back from the first request; a connection the server closes
// before answering still is sent again, and the read succeeds.
func TestAReadIsSentAgainOnlyForATransportErrorThatMayPass(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	path := "/streams/" + stream.String()
	var closed atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "scheme":
			w.Header().Set("Location", "ftp://"+r.Host+path)
			w.WriteHeader(http.StatusFound)
			return
		case "location":
			w.Header().Set("Location", "http://[::1")
			w.WriteHeader(http.StatusFound)
			return
		}
		if closed.Add(1) == 1 {
			// The first request's connection closes before its answer.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"stream_id":"` + stream.String() + `","stream_type":"note","version":1}`)) //nolint:errcheck // a test's answer
	})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="proxy"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
	}))
	t.Cleanup(proxy.Close)
	proxyURL, _ := url.Parse(proxy.URL)
	tls := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tls.Close)
	viaProxy := tls.Client().Transport.(*http.Transport).Clone()
	viaProxy.Proxy = http.ProxyURL(proxyURL)

	for _, tc := range []struct {
		name  string
		base  string
		next  http.RoundTripper
		query string
		sent  int64 // requests sent to the path, a redirect's too
		ok    bool
	}{
		{name: "the caller's transport refusing", base: srv.URL, next: refusingTransport{}, sent: 1},
		{name: "a proxy's 407", base: tls.URL, next: viaProxy, sent: 1},
		{name: "a redirect to another scheme", base: srv.URL, next: http.DefaultTransport, query: "scheme", sent: 2}, // and the redirect's
		{name: "a Location that is no URL", base: srv.URL, next: http.DefaultTransport, query: "location", sent: 1},
		{name: "a connection closed before the answer", base: srv.URL, next: &http.Transport{DisableKeepAlives: true}, sent: 2, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counting := &countingTransport{next: tc.next, path: path}
			c := newClient(t, tc.base, WithHTTPClient(&http.Client{Transport: counting}), WithReadRetries(2))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var err error
			if tc.query != "" {
				_, _, _, err = c.getJSON(ctx, &url.URL{Scheme: c.base.Scheme, Host: c.base.Host, Path: path, RawQuery: "case=" + tc.query}, &Stream{}, 1<<20)
			} else {
				_, err = c.Stream(ctx, stream)
			}
			if sent := counting.sent.Load(); sent != tc.sent || (err == nil) != tc.ok {
				t.Errorf("a read that met %s, WithReadRetries(2): sent %d times, then %v; expected it sent %d times, and an error: %v", tc.name, sent, err, tc.sent, !tc.ok)
			}
		})
	}
}

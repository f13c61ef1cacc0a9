package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSubscribeEndsAtATransportErrorNoRetryIsKnownToMend: a request that
// failed short of an answer with an error of the caller's own making (its
// RoundTripper refusing, a redirect to a scheme the transport does not
// speak, a Location that is no URL) was waited out for ever, every
// attempt meeting it again, where a read (WithReadRetries) gives it back
// at once. transportRefusals attempts in a row that meet such an error
// now end the subscription with it, saying no retry is known to mend it;
// a connection the server closes before answering, however often, is
// still waited out.
func TestSubscribeEndsAtATransportErrorNoRetryIsKnownToMend(t *testing.T) {
	t.Parallel()
	var closes atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "scheme":
			w.Header().Set("Location", "ftp://"+r.Host+"/events")
			w.WriteHeader(http.StatusFound)
			return
		case "location":
			w.Header().Set("Location", "http://[::1")
			w.WriteHeader(http.StatusFound)
			return
		case "garbage":
			answerGarbage(w, "garbage\r\n\r\n")
			return
		case "header":
			answerGarbage(w, "HTTP/1.1 200 OK\r\nno header\r\n\r\n")
			return
		}
		closes.Add(1)
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close() // before any answer
		}
	})
	// A forward proxy that answers every CONNECT with garbage.
	proxy := testServer(t, func(w http.ResponseWriter, _ *http.Request) { answerGarbage(w, "garbage\r\n\r\n") })
	for _, tc := range []struct {
		name string
		next http.RoundTripper
		q    string
		base string // srv.URL if empty
		says string
		ends bool
	}{
		{name: "the caller's transport refusing", next: refusingTransport{}, says: "refused by the caller's policy", ends: true},
		{name: "a redirect to another scheme", next: http.DefaultTransport, q: "scheme", says: "unsupported protocol scheme", ends: true},
		{name: "a Location that is no URL", next: http.DefaultTransport, q: "location", says: "Location", ends: true},
		{name: "a connection closed before the answer", next: &http.Transport{DisableKeepAlives: true}},
		{name: "an answer net/http cannot read", next: &http.Transport{DisableKeepAlives: true}, q: "garbage"},
		{name: "an answer whose header net/http cannot read", next: &http.Transport{DisableKeepAlives: true}, q: "header"},
		{name: "a forward proxy's answer to CONNECT net/http cannot read", base: "https://tributary.invalid", q: "garbage",
			next: &http.Transport{DisableKeepAlives: true, Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(proxy.URL) }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The query names the case: a transport that adds it to
			// every request, as the base URL cannot hold one.
			hc := &http.Client{Transport: withQuery{next: tc.next, q: tc.q}}
			base := srv.URL
			if tc.base != "" {
				base = tc.base
			}
			c := newClient(t, base, WithHTTPClient(hc))
			// Cancelled at the disconnection after twice
			// transportRefusals: a subscription still going then waits
			// out what it meets. The timeout is a safety net.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var cuts atomic.Int64
			var last error
			for _, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
				OnDisconnect: func(error, time.Duration) {
					if cuts.Add(1) == 2*transportRefusals {
						cancel()
					}
				}}) {
				last = err
			}
			switch {
			case tc.ends && (errors.Is(last, context.Canceled) || errors.Is(last, context.DeadlineExceeded) ||
				!strings.Contains(last.Error(), tc.says) || !strings.Contains(last.Error(), "no retry is known to mend") ||
				cuts.Load() != transportRefusals-1):
				t.Errorf("%s: ended with %v after %d disconnections; expected it ended at attempt %d, saying %q and that no retry is known to mend it",
					tc.name, last, cuts.Load(), transportRefusals, tc.says)
			case !tc.ends && (!errors.Is(last, context.Canceled) || tc.q == "" && closes.Load() < 2*transportRefusals):
				t.Errorf("%s: ended with %v after %d disconnections, %d connections closed; expected it waited out until the test cancelled it", tc.name, last, cuts.Load(), closes.Load())
			}
		})
	}
}

// answerGarbage answers with bytes that are no HTTP answer, as a proxy
// restarting, or another program on its port for a while, may send.
func answerGarbage(w http.ResponseWriter, garbage string) {
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		io.WriteString(conn, garbage) //nolint:errcheck // a test's answer
		conn.Close()
	}
}

// withQuery is a transport that sets the query q, if any, on every
// request, then sends it with next.
type withQuery struct {
	next http.RoundTripper
	q    string
}

func (w withQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	if w.q != "" {
		r = r.Clone(r.Context())
		q := r.URL.Query()
		q.Set("case", w.q)
		r.URL.RawQuery = q.Encode()
	}
	return w.next.RoundTrip(r)
}

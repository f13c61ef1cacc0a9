package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// tunnellingProxy is a forward proxy that answers the first refuse
// CONNECTs with status, in its own words (reason), as a proxy whose
// upstream is down or that is overloaded does, and tunnels the later
// ones. It counts the CONNECTs.
func tunnellingProxy(t *testing.T, refuse int64, status, reason string) (*url.URL, *atomic.Int64) {
	t.Helper()
	var connects atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		if connects.Add(1) <= refuse {
			fmt.Fprintf(conn, "HTTP/1.1 %s %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status, reason)
			return
		}
		target, err := net.Dial("tcp", r.Host)
		if err != nil {
			fmt.Fprintf(conn, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		defer target.Close()
		fmt.Fprintf(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
		go func() {
			io.Copy(target, bufio.NewReader(io.MultiReader(buf, conn))) //nolint:errcheck // a tunnel's copy
			target.Close()
		}()
		io.Copy(conn, target) //nolint:errcheck // a tunnel's copy
	}))
	t.Cleanup(proxy.Close)
	u, _ := url.Parse(proxy.URL)
	return u, &connects
}

// TestAReadIsSentAgainWhenAProxyAnswersCONNECTThatItIsBusy: since reads
// were sent again only for transport errors that may pass, a forward
// proxy's 502, 503 or 504 to CONNECT (its upstream, the Tributary server,
// restarting; the proxy overloaded), which net/http returns as a
// proxyconnect error holding only the answer's reason phrase, was taken
// for the proxy's refusal, as its 407 is, and came back from the first
// request, where before it was sent again. Through a real proxy, in
// Squid's and nginx's words, the read is sent again and succeeds; the
// proxy's 407 and 403 still come back at once.
func TestAReadIsSentAgainWhenAProxyAnswersCONNECTThatItIsBusy(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"stream_id":"` + stream.String() + `","stream_type":"note","version":1}`)) //nolint:errcheck // a test's answer
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		status, reason string
		connects       int64
		ok             bool
	}{
		{"502", "Bad Gateway", 2, true},
		{"503", "Service Unavailable", 2, true},
		{"503", "Service Temporarily Unavailable", 2, true}, // nginx's
		{"504", "Gateway Timeout", 2, true},
		{"504", "Gateway Time-out", 2, true}, // nginx's
		{"429", "Too Many Requests", 2, true},
		{"407", "Proxy Authentication Required", 1, false},
		{"403", "Forbidden", 1, false},
	} {
		t.Run(tc.status+" "+tc.reason, func(t *testing.T) {
			t.Parallel()
			proxyURL, connects := tunnellingProxy(t, 1, tc.status, tc.reason)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.Proxy = http.ProxyURL(proxyURL)
			t.Cleanup(tr.CloseIdleConnections)
			c := newClient(t, srv.URL, WithHTTPClient(&http.Client{Transport: tr}), WithReadRetries(1))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := c.Stream(ctx, stream)
			if n := connects.Load(); n != tc.connects || (err == nil) != tc.ok {
				t.Errorf("a read through a proxy that answered its first CONNECT %s %s, WithReadRetries(1): %d CONNECTs, then %v; expected %d CONNECTs, and an error: %v",
					tc.status, tc.reason, n, err, tc.connects, !tc.ok)
			}
		})
	}
}

// TestASubscriptionEndsWhenAProxyAnswersCONNECTWith407: a 407 ends a
// subscription, as a refusal of the request's credentials that every
// reconnection meets again, but a forward proxy's 407 to CONNECT, which
// net/http returns as an error of its reason phrase, not as an answer,
// was waited out with backoff for ever, told only to OnDisconnect.
// Through a real proxy that answers every CONNECT 407, the subscription
// now ends at the first, with an error that says so; one answered 503
// once is still waited out and delivers.
func TestASubscriptionEndsWhenAProxyAnswersCONNECTWith407(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startEventStream(w)
		io.WriteString(w, "id: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		status, reason string
		refuse         int64
		delivers       bool
	}{
		{"407", "Proxy Authentication Required", 1 << 30, false},
		{"503", "Service Unavailable", 1, true},
	} {
		t.Run(tc.status, func(t *testing.T) {
			t.Parallel()
			proxyURL, connects := tunnellingProxy(t, tc.refuse, tc.status, tc.reason)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.Proxy = http.ProxyURL(proxyURL)
			t.Cleanup(tr.CloseIdleConnections)
			c := newClient(t, srv.URL, WithHTTPClient(&http.Client{Transport: tr}))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var end error
			delivered := false
			for m, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}) {
				if err != nil {
					end = err
					break
				}
				if !m.CaughtUp {
					delivered = true
					break
				}
			}
			if tc.delivers {
				if !delivered {
					t.Errorf("a subscription through a proxy that answered its first CONNECT %s: ended with %v; expected the event once the proxy tunnelled", tc.status, end)
				}
				return
			}
			if end == nil || errors.Is(end, context.DeadlineExceeded) || connects.Load() != 1 {
				t.Errorf("a subscription through a proxy that answers CONNECT %s: %d CONNECTs, then %v; expected it ended at the first, not waited out", tc.status, connects.Load(), end)
			}
		})
	}
}

// TestASubscriptionWaitsOutAProxysPassingAnswerToCONNECTInAnyWords: since
// a subscription ends at the third attempt in a row that fails with an
// error not known to pass, a forward proxy's answer to CONNECT that says
// its upstream is restarting, in words proxyBusy did not know (Apache's
// "502 Proxy Error", a 500, a 408, a status line with no reason phrase,
// all of which net/http returns as the phrase alone), ended a
// subscription within seconds, where the server's own 5xx or 408 is
// waited out. Through a proxy that answers the first 2*transportRefusals
// CONNECTs so, the subscription now delivers once it tunnels.
func TestASubscriptionWaitsOutAProxysPassingAnswerToCONNECTInAnyWords(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startEventStream(w)
		io.WriteString(w, "id: 1\ndata: "+sseEvent(1)+"\n\n") //nolint:errcheck // a test's answer
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ status, reason string }{
		{"502", "Proxy Error"}, // Apache's
		{"500", "Internal Server Error"},
		{"408", "Request Timeout"},
		{"503", ""},
	} {
		t.Run(tc.status+" "+tc.reason, func(t *testing.T) {
			t.Parallel()
			proxyURL, connects := tunnellingProxy(t, 2*transportRefusals, tc.status, tc.reason)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.Proxy = http.ProxyURL(proxyURL)
			t.Cleanup(tr.CloseIdleConnections)
			c := newClient(t, srv.URL, WithHTTPClient(&http.Client{Transport: tr}))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var end error
			for m, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}) {
				if err != nil {
					end = err
					break
				}
				if !m.CaughtUp {
					return
				}
			}
			t.Errorf("a subscription through a proxy that answered its first %d CONNECTs %s %q: ended with %v after %d CONNECTs; expected the event once the proxy tunnelled",
				2*transportRefusals, tc.status, tc.reason, end, connects.Load())
		})
	}
}

package client

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestSubscribeEndsAtARedirectLoopOrACertificateItCannotTrust: a redirect
// loop (net/http's "stopped after 10 redirects"), a redirect the caller's
// own CheckRedirect refuses, and a server certificate the client does not
// trust (an unknown authority, another host's name, expired) were taken
// for network errors and retried for ever, though the next request meets
// them again, and so was an https base URL of a server that answers
// plain HTTP (http.ErrSchemeMismatch). They now end the subscription at
// once, with an error that says which and wraps the cause.
func TestSubscribeEndsAtARedirectLoopOrACertificateItCannotTrust(t *testing.T) {
	t.Parallel()
	var loops atomic.Int64
	loop := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		loops.Add(1)
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
	})
	var secures atomic.Int64
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secures.Add(1)
		startEventStream(w)
	}))
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes the client refuses
	secure.StartTLS()
	t.Cleanup(secure.Close)
	expired := expiredTLSServer(t)
	refuse := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("no redirects here") }}
	_, port, _ := net.SplitHostPort(secure.Listener.Addr().String())
	for name, tc := range map[string]struct {
		url  string
		hc   *http.Client
		says string
		most *atomic.Int64 // what counts requests or connections, and
		max  int64         // how many one attempt makes
		want any           // what the error wraps, for errors.As
		is   error         // what it wraps, for errors.Is
	}{
		"a redirect loop":                  {url: loop.URL, says: "redirect", most: &loops, max: 11},
		"a redirect CheckRedirect refuses": {url: loop.URL, hc: refuse, says: "no redirects here"},
		"an unknown authority":             {url: secure.URL, says: "certificate", want: new(x509.UnknownAuthorityError)},
		"another host's certificate": {url: "https://localhost:" + port, hc: secure.Client(), says: "certificate",
			want: new(x509.HostnameError)},
		"an expired certificate": {url: expired.srv.URL, hc: expired.client, says: "certificate",
			want: new(x509.CertificateInvalidError)},
		"plain HTTP to https": {url: strings.Replace(loop.URL, "http:", "https:", 1), says: "plain HTTP",
			is: http.ErrSchemeMismatch},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := []Option{}
			if tc.hc != nil {
				opts = append(opts, WithHTTPClient(tc.hc))
			}
			c := newClient(t, tc.url, opts...)
			last := endedAtOnce(t, c)
			switch {
			case !strings.Contains(last.Error(), tc.says):
				t.Errorf("ended with %v; expected an error that says %q", last, tc.says)
			case tc.want != nil && !errors.As(last, tc.want):
				t.Errorf("ended with %v; expected it to wrap a %T", last, tc.want)
			case tc.is != nil && !errors.Is(last, tc.is):
				t.Errorf("ended with %v; expected it to wrap %v", last, tc.is)
			}
			if tc.most != nil && tc.most.Load() > tc.max {
				t.Errorf("%d requests; expected at most %d, one attempt's", tc.most.Load(), tc.max)
			}
		})
	}
	if n := secures.Load(); n != 0 {
		t.Errorf("the TLS server handled %d requests; expected none, its certificate refused each time", n)
	}
}

// expiredServer is a TLS server whose certificate, trusted by client,
// expired yesterday.
type expiredServer struct {
	srv    *httptest.Server
	client *http.Client
}

func expiredTLSServer(t *testing.T) expiredServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "expired"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startEventStream(w)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(tr.CloseIdleConnections)
	return expiredServer{srv: srv, client: &http.Client{Transport: tr}}
}

// TestSubscribeEndsWhenAnsweredWithAPageOfEvents: a proxy that drops
// Accept makes the server answer a subscription with the page of events
// (200 application/json), which Subscribe waited out for ever, as it does
// a maintenance page. Tributary's page is the answer to a request without
// Accept: text/event-stream, which every retry sends the same way through
// the same proxy: pageAnswers of them in a row (room for one instance or
// proxy of several at fault) end the subscription with an error that says
// the answer was not an event stream. Any other 200 that is no event
// stream is still waited out, however often.
func TestSubscribeEndsWhenAnsweredWithAPageOfEvents(t *testing.T) {
	t.Parallel()
	stream := uuid.New()
	streamEvent := eventJSON(uuid.New(), stream, 1, 1)
	logPage := `{"events":[` + sseEvent(1) + `]}`
	streamPage := `{"stream_id":"` + stream.String() + `","stream_type":"order","version":1,"events":[` + streamEvent + `]}`
	for name, tc := range map[string]struct {
		body   string
		stream bool // a stream subscription
		times  int  // how many answers before the event stream; 0: every one
		ends   bool
	}{
		"the log's page":                {body: logPage, ends: true},
		"a stream's page":               {body: streamPage, stream: true, ends: true},
		"an empty page":                 {body: `{"events":[]}`, ends: true},
		"pages, fewer than pageAnswers": {body: logPage, times: pageAnswers - 1},
		"JSON that is no page":          {body: `{"status":"maintenance"}`, times: 2 * pageAnswers},
		"a page of another member":      {body: `{"events":"none"}`, times: 2 * pageAnswers},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var requests atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				if n := requests.Add(1); tc.times == 0 || n <= int64(tc.times) {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, tc.body) //nolint:errcheck // a test's answer
					return
				}
				event := sseEvent(1)
				if tc.stream {
					event = streamEvent
				}
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "retry: 1\n\nid: 1\ndata: "+event+"\n\n") //nolint:errcheck // a test's answer
			})
			opts := SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
			if tc.stream {
				opts.StreamID = stream
			}
			msgs, last := subscribeFor(t, srv, 30*time.Second, opts, 1)
			switch {
			case tc.ends && (last == nil || errors.Is(last, context.DeadlineExceeded) || !strings.Contains(last.Error(), "not an event stream") || requests.Load() != pageAnswers):
				t.Errorf("received %v, then %v after %d requests; expected %d pages to end it, saying it was not an event stream", positions(msgs), last, requests.Load(), pageAnswers)
			case !tc.ends && len(msgs) != 1:
				t.Errorf("received %v, then %v after %d requests; expected the answers waited out, and the event from the next", positions(msgs), last, requests.Load())
			}
		})
	}
}

// endedAtOnce subscribes with c, retrying fast for up to 3 s, and returns
// the error the subscription ended with, failing t unless its first
// attempt ended it.
func endedAtOnce(t *testing.T, c *Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var tries atomic.Int64
	var last error
	for _, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		OnDisconnect: func(error, time.Duration) { tries.Add(1) }}) {
		last = err
		break
	}
	t.Logf("ended with %v", last)
	if last == nil || errors.Is(last, context.DeadlineExceeded) || tries.Load() != 0 {
		t.Fatalf("ended with %v after %d retries; expected the first attempt to end it", last, tries.Load())
	}
	return last
}

// TestSubscribeEndsAtAPermanentRedirectItWasToldNotToFollow: a caller
// whose CheckRedirect answers http.ErrUseLastResponse gets the redirect
// itself; a 301 or 308, which says the subscription's URL has moved for
// good, was taken for an answer that is not Tributary's and waited out
// for ever, every attempt meeting it again. It now ends the subscription
// at once, saying where the server moved it; a 302 or 307, which may be
// a maintenance window's, is still waited out.
func TestSubscribeEndsAtAPermanentRedirectItWasToldNotToFollow(t *testing.T) {
	t.Parallel()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, status := range []int{http.StatusMovedPermanently, http.StatusPermanentRedirect} {
		c := serving(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/v2"+r.URL.RequestURI(), status)
		}, WithHTTPClient(noFollow))
		if last := endedAtOnce(t, c); !strings.Contains(last.Error(), "/v2/events") {
			t.Errorf("%d: ended with %v; expected an error naming where the server moved the subscription", status, last)
		}
	}
	var requests atomic.Int64
	c := serving(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Redirect(w, r, "/maintenance", http.StatusTemporaryRedirect)
	}, WithHTTPClient(noFollow))
	// Cancelled at its second disconnection: it came back after the 307.
	// The timeout is a safety net against a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cuts atomic.Int64
	for _, err := range c.Subscribe(ctx, SubscribeOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		OnDisconnect: func(error, time.Duration) {
			if cuts.Add(1) == 2 {
				cancel()
			}
		}}) {
		if !errors.Is(err, context.Canceled) || requests.Load() < 2 {
			t.Errorf("a 307: ended with %v after %d requests; expected it waited out until the test cancelled it at its second disconnection", err, requests.Load())
		}
	}
}

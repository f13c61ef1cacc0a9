package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestANextLinkToTheServersOriginWrittenAnotherWayIsFollowed: a next link
// to the server's own origin written another way than the base URL (RFC
// 6454 §4: the scheme and host compared in lower case, a port left out the
// scheme's default; an IPv6 address in its long form, the same address)
// was refused as naming another origin, and the read failed at its first
// page, and so was a port written with leading zeros (:0080, port 80). It is now followed, on the server's origin, with the token. A
// host with a trailing dot is another host to RFC 6454 (and to a resolver
// with search domains, a name that is not absolute may be another
// machine): it is refused still, as are other ports and hosts.
func TestANextLinkToTheServersOriginWrittenAnotherWayIsFollowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base   string   // the base URL, every host of it dialled to the test server
		tls    bool     // the test server speaks TLS
		follow []string // next links followed to the second page
		refuse []string // next links refused
	}{
		{base: "http://tributary.test", follow: []string{
			"http://tributary.test:80/events?after=1",
			"http://tributary.test:/events?after=1",
			"HTTP://Tributary.TEST/events?after=1",
			"//TRIBUTARY.test:80/events?after=1",
			"http://tributary.test:0080/events?after=1",
		}, refuse: []string{
			"http://tributary.test:8080/events?after=1",
			"http://tributary.test:0/events?after=1",
			"http://tributary.test:65616/events?after=1",
			"http://tributary.test./events?after=1",
			"https://tributary.test:80/events?after=1",
			"http://other.test:80/events?after=1",
		}},
		{base: "https://tributary.test:443/", tls: true, follow: []string{
			"https://tributary.test/events?after=1",
			"HTTPS://TRIBUTARY.TEST:443/events?after=1",
		}, refuse: []string{
			"http://tributary.test:443/events?after=1",
			"https://tributary.test:8443/events?after=1",
		}},
		{base: "http://[::1]", follow: []string{
			"http://[0:0:0:0:0:0:0:1]/events?after=1",
			"http://[0000:0000:0000:0000:0000:0000:0000:0001]:80/events?after=1",
		}, refuse: []string{
			"http://[::2]/events?after=1",
			"http://[::ffff:127.0.0.1]/events?after=1",
			"http://127.0.0.1/events?after=1",
		}},
		{base: "http://[2001:DB8::1]:8080", follow: []string{
			"http://[2001:db8:0:0:0:0:0:1]:8080/events?after=1",
		}, refuse: []string{
			"http://[2001:db8::2]:8080/events?after=1",
		}},
	} {
		for _, link := range tc.follow {
			t.Run("follow "+link, func(t *testing.T) {
				t.Parallel()
				c, asked := linkServer(t, tc.base, tc.tls, link)
				got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
				if fmt.Sprint(got) != "[1 2]" || err != nil || asked.Load() != 1 {
					t.Errorf("base %s, Link <%s>: read %v, then %v, %d requests for the second page with the token; expected [1 2], the link followed once, with the token",
						tc.base, link, got, err, asked.Load())
				}
			})
		}
		for _, link := range tc.refuse {
			t.Run("refuse "+link, func(t *testing.T) {
				t.Parallel()
				c, asked := linkServer(t, tc.base, tc.tls, link)
				got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
				if fmt.Sprint(got) != "[]" || err == nil || !strings.Contains(err.Error(), "another origin") || asked.Load() != 0 {
					t.Errorf("base %s, Link <%s>: read %v, then %v, %d requests for the second page; expected no event, the link refused as naming another origin, nothing sent",
						tc.base, link, got, err, asked.Load())
				}
			})
		}
	}
}

// linkServer starts a server whose first page of the log holds event 1
// and links to link, and whose page after it holds event 2, and returns
// a client with a token at base, whose every connection, whatever its
// host, goes to that server, and the count of requests for the second
// page that came with the token.
func linkServer(t *testing.T, base string, withTLS bool, link string) (*Client, *atomic.Int64) {
	t.Helper()
	var asked atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.RawQuery == "" {
			w.Header().Set("Link", "<"+link+`>; rel="next"`)
			io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
			return
		}
		if r.Header.Get("Authorization") == "Bearer t0k" {
			asked.Add(1)
		}
		io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
	})
	var srv *httptest.Server
	if withTLS {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test server's certificate, every host dialled to it
	}
	t.Cleanup(tr.CloseIdleConnections)
	return newClient(t, base, WithHTTPClient(&http.Client{Transport: tr}), WithToken("t0k")), &asked
}

package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	gopath "path"
	"strings"
	"sync/atomic"
	"testing"
)

// TestATrailingDotHostIsItsOwnOriginAsWritten: a base URL whose host ends
// in a dot (http://localhost.:port, an absolute name, which no search
// domain turns into another machine) is one origin with every link and
// redirect that names it the same way, in any case: they are followed
// with the token. The same name without the dot is another name (RFC
// 6454 §4 compares hosts as written; a resolver with search domains may
// find another machine for it): a link there is refused, nothing sent,
// and a redirect there is followed without the token. Every name is
// dialled to the test server (localhost. may not resolve where the test
// runs).
func TestATrailingDotHostIsItsOwnOriginAsWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		link     string // with PORT for the test server's port
		redirect bool   // the page redirects there, rather than link there
		follow   bool   // followed, with the token
		sent     bool   // followed without it (a redirect)
	}{
		{link: "http://localhost.:PORT/events?after=1", follow: true},
		{link: "http://LocalHost.:PORT/events?after=1", follow: true},
		{link: "//localhost.:PORT/events?after=1", follow: true},
		{link: "http://localhost:PORT/events?after=1"},
		{link: "http://localhost..:PORT/events?after=1"},
		{link: "http://localhost.:PORT/events?after=1", redirect: true, follow: true},
		{link: "http://LOCALHOST.:PORT/events?after=1", redirect: true, follow: true},
		{link: "http://localhost:PORT/events?after=1", redirect: true, sent: true},
	} {
		name := "link " + tc.link
		if tc.redirect {
			name = "redirect " + tc.link
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var withToken, without atomic.Int64
			var port string
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				link := strings.ReplaceAll(tc.link, "PORT", port)
				w.Header().Set("Content-Type", "application/json")
				switch {
				case r.URL.RawQuery == "" && tc.redirect:
					http.Redirect(w, r, link, http.StatusFound)
					return
				case r.URL.RawQuery == "":
					w.Header().Set("Link", "<"+link+`>; rel="next"`)
					io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
					return
				case r.Header.Get("Authorization") == "Bearer t0k":
					withToken.Add(1)
				default:
					without.Add(1)
				}
				io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
			})
			_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
			addr := srv.Listener.Addr().String()
			var d net.Dialer
			tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, addr)
			}}
			t.Cleanup(tr.CloseIdleConnections)
			c := newClient(t, "http://localhost.:"+port, WithToken("t0k"), WithHTTPClient(&http.Client{Transport: tr}))
			got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
			want := "[1 2]" // the first page, then the link's
			switch {
			case tc.redirect:
				want = "[2]" // the redirect's page only
			case !tc.follow:
				want = "[]"
			}
			switch {
			case fmt.Sprint(got) != want:
				t.Errorf("read %v, then %v; expected %s", got, err, want)
			case tc.follow && (err != nil || withToken.Load() != 1 || without.Load() != 0):
				t.Errorf("read %v, then %v, %d requests there with the token, %d without; expected it followed once, with the token", got, err, withToken.Load(), without.Load())
			case tc.sent && (err != nil || withToken.Load() != 0 || without.Load() != 1):
				t.Errorf("read %v, then %v, %d requests there with the token, %d without; expected it followed once, without the token", got, err, withToken.Load(), without.Load())
			case !tc.follow && !tc.sent && (err == nil || !strings.Contains(err.Error(), "another origin") || withToken.Load()+without.Load() != 0):
				t.Errorf("read %v, then %v, %d requests there; expected the link refused as naming another origin, nothing sent", got, err, withToken.Load()+without.Load())
			}
		})
	}
}

// TestABasePathWithAnEscapedPercentStaysAsWrittenAndNothingLeavesIt: a
// base path whose segment holds %255C (a gateway's route whose name holds
// "%5C" itself, not a backslash) is sent as written, every request under
// it; a next link the server writes from its root, or a proxy rewrote to
// the whole path, is followed under it, with the token. A relative link
// that climbs out of it, with escaped slashes or backslashes (which a
// proxy may read as slashes), is refused, nothing sent; a redirect out
// of it, to the path unescaped once (/t%5Cacme: a backslash, which such a
// proxy takes for /t/acme) or climbing out, is followed without the
// token.
func TestABasePathWithAnEscapedPercentStaysAsWrittenAndNothingLeavesIt(t *testing.T) {
	t.Parallel()
	const base = "/t%255Cacme"
	for _, tc := range []struct {
		link     string
		redirect bool
		follow   bool // followed under the base path, with the token
		sent     bool // followed out of it, without the token (a redirect)
	}{
		{link: "/events?after=1", follow: true},
		{link: base + "/events?after=1", follow: true},
		{link: "/t%255cacme/events?after=1", follow: true},
		{link: "?after=1", follow: true},
		{link: "/t%5Cacme/events?after=1", follow: true}, // from the service's root: under the base path
		{link: "../other/events?after=1"},
		{link: "..%5C..%5Cother/events?after=1"},
		{link: "..%2F..%2Fother/events?after=1"},
		{link: "%5C..%5C..%5Cother/events?after=1"},
		{link: base + "/events?after=1", redirect: true, follow: true},
		{link: "/t%5Cacme/events?after=1", redirect: true, sent: true},
		{link: base + "/..%5C..%5Cother/events?after=1", redirect: true, sent: true},
	} {
		name := "link " + tc.link
		if tc.redirect {
			name = "redirect " + tc.link
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var under, withToken, out, first atomic.Int64
			srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.RawQuery == "" {
					first.Add(1)
					if r.URL.EscapedPath() != base+"/events" {
						t.Errorf("the first page was asked for at %s; expected %s/events", r.URL.EscapedPath(), base)
					}
					if tc.redirect {
						http.Redirect(w, r, tc.link, http.StatusFound)
						return
					}
					w.Header().Set("Link", "<"+tc.link+`>; rel="next"`)
					io.WriteString(w, `{"events":[`+sseEvent(1)+`]}`) //nolint:errcheck // a test's answer
					return
				}
				// Read as a proxy that takes a backslash for a slash and
				// resolves dot segments reads it.
				if p := gopath.Clean(strings.ReplaceAll(r.URL.Path, `\`, "/")); strings.HasPrefix(strings.ToLower(p), "/t%5cacme/") {
					under.Add(1)
				} else {
					out.Add(1)
				}
				if r.Header.Get("Authorization") == "Bearer t0k" {
					withToken.Add(1)
				}
				io.WriteString(w, `{"events":[`+sseEvent(2)+`]}`) //nolint:errcheck // a test's answer
			})
			c := newClient(t, srv.URL+base, WithToken("t0k"))
			got, err := readPositions(c.ReadAll(context.Background(), ReadAllOptions{}))
			switch {
			case tc.follow && (err != nil || under.Load() != 1 || out.Load() != 0 || withToken.Load() != 1):
				t.Errorf("read %v, then %v; %d requests under the base path, %d out of it, %d with the token; expected it followed once under it, with the token", got, err, under.Load(), out.Load(), withToken.Load())
			case tc.sent && (out.Load() != 1 || withToken.Load() != 0):
				t.Errorf("read %v, then %v; %d requests out of the base path, %d with the token; expected the redirect followed without the token", got, err, out.Load(), withToken.Load())
			case !tc.follow && !tc.sent && (err == nil || !strings.Contains(err.Error(), "base URL's path") || under.Load()+out.Load() != 0):
				t.Errorf("read %v, then %v; %d requests for the link; expected it refused as leading out of the base URL's path, nothing sent", got, err, under.Load()+out.Load())
			}
			if first.Load() != 1 {
				t.Errorf("the first page was asked for %d times; expected once", first.Load())
			}
		})
	}
}

package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestTheTokenDoesNotFollowARedirectToAnotherOrigin: net/http sends the
// Authorization header on to a redirect's target whose host name is the
// same (or a subdomain), whatever its scheme and port, so a server or
// proxy answering https://host with a redirect to http://host (or to
// another port: another service on the host) had the client send its
// token there, in the clear. The token now goes only to the base URL's
// origin, or to an upgrade of it to https; the redirect is still
// followed, without it.
func TestTheTokenDoesNotFollowARedirectToAnotherOrigin(t *testing.T) {
	t.Parallel()
	const token = "s3cr3t-token"
	// The target: records what Authorization each request brought.
	var mu sync.Mutex
	var got []string
	target := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable) // ends a read; waited out by a subscription
	})
	// The server: TLS on the same host, another port, redirecting there.
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusFound
		if r.Method == http.MethodPost {
			code = http.StatusTemporaryRedirect // keeps the POST and its body
		}
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), code)
	})
	srv := httptest.NewTLSServer(redirect)
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(redirect) // http too, another port
	t.Cleanup(plain.Close)
	if u, _ := url.Parse(target.URL); !strings.HasPrefix(srv.URL, "https://"+u.Hostname()+":") {
		t.Fatalf("the servers %s and %s are on different hosts; the test needs one", srv.URL, target.URL)
	}
	var theirs atomic.Int64 // the calls of the caller's CheckRedirect
	for name, tc := range map[string]struct {
		base string
		opts []Option
	}{
		"the client's own transport, another port": {plain.URL, []Option{WithToken(token)}},
		"a caller's http.Client":                   {srv.URL, []Option{WithToken(token), WithHTTPClient(&http.Client{Transport: srv.Client().Transport})}},
		// A caller's CheckRedirect is still called, and may stop a redirect.
		"a caller's CheckRedirect": {srv.URL, []Option{WithToken(token), WithHTTPClient(&http.Client{Transport: srv.Client().Transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { theirs.Add(1); return nil }})}},
	} {
		c := newClient(t, tc.base, tc.opts...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = c.Stream(ctx, uuid.New()) // what counts is what the target got
		_, _ = c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
		for _, err := range c.ReadAll(ctx, ReadAllOptions{}) {
			_ = err
			break
		}
		// The subscription runs until the target has its request (the
		// fourth), seen, not given 300 ms: a safety bound ends the wait.
		subCtx, subCancel := context.WithCancel(ctx)
		subDone := make(chan struct{})
		go func() {
			defer close(subDone)
			for _, err := range c.Subscribe(subCtx, SubscribeOptions{MinBackoff: 50 * time.Millisecond}) {
				_ = err
				break
			}
		}()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= 4 {
				break
			}
		}
		subCancel()
		<-subDone
		cancel()
		mu.Lock()
		if len(got) < 4 {
			t.Errorf("%s: the target got %d requests; expected the redirects followed", name, len(got))
		}
		for _, g := range got {
			if strings.Contains(g, token) {
				t.Errorf("%s: the target, on another origin, got %q; expected no token", name, g)
			}
		}
		got = nil
		mu.Unlock()
	}
	if theirs.Load() == 0 {
		t.Errorf("the caller's CheckRedirect was never called")
	}
}

// TestTheTokenFollowsARedirectWithinItsOrigin: a redirect to the same
// origin (a path moved), or from http to https on the same host (a proxy
// that upgrades), still carries the token.
func TestTheTokenFollowsARedirectWithinItsOrigin(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth string
	answer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stream_id":"`+path.Base(r.URL.Path)+`","stream_type":"order","version":1}`) //nolint:errcheck // a test's answer
	})
	secure := httptest.NewTLSServer(answer)
	t.Cleanup(secure.Close)
	for name, redirect := range map[string]func(r *http.Request) string{
		"the same origin":   func(r *http.Request) string { return "/moved" + r.URL.RequestURI() },
		"an upgrade to TLS": func(r *http.Request) string { return secure.URL + "/moved" + r.URL.RequestURI() },
	} {
		c := serving(t, func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasPrefix(r.URL.Path, "/moved") {
				http.Redirect(w, r, redirect(r), http.StatusFound)
				return
			}
			answer(w, r)
		}, WithToken("t0k"), WithHTTPClient(secure.Client()))
		mu.Lock()
		auth = ""
		mu.Unlock()
		if _, err := c.Stream(context.Background(), uuid.New()); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mu.Lock()
		if auth != "Bearer t0k" {
			t.Errorf("%s: the redirect's target got Authorization %q; expected the token", name, auth)
		}
		mu.Unlock()
	}
}

// TestNewDoesNotQuoteAPasswordInTheServerURL: a base URL refused (another
// scheme, no host, or no URL at all) was quoted whole in New's error,
// with the password of its user information (or a token given as its
// user name), which went on into the caller's log.
func TestNewDoesNotQuoteAPasswordInTheServerURL(t *testing.T) {
	t.Parallel()
	for _, base := range []string{
		"ftp://admin:hunter2@example.com",
		"http://admin:hunter2@",
		"http://admin:hunter2@exa mple.com:80x",
		"admin:hunter2@example.com",
		"//admin:hunter2@example.com",
		"ftp://hunter2@example.com", // a token as the user name
	} {
		_, err := New(base)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(%q): %v; expected an error that does not quote the password", base, err)
		}
	}
	if _, err := New("ftp://example.com"); err == nil || !strings.Contains(err.Error(), "ftp://example.com") {
		t.Errorf("New(ftp://example.com): %v; expected an error that quotes the URL, which holds no password", err)
	}
}

// TestAppendFollowsA307Or308OnlyWithinItsOrigin: net/http follows a 307
// or 308 to an append with the body, the events, to wherever it points:
// a server or proxy on the base URL's origin that answered one to
// another host, or another port, had the batch posted to a service the
// client was never configured for (without the token, which stays in the
// origin, but with the events). An append now follows one within its
// origin, or to https on the same host, as the token does, and ends at
// any other with an error naming where it was sent, nothing posted there.
func TestAppendFollowsA307Or308OnlyWithinItsOrigin(t *testing.T) {
	t.Parallel()
	var posted atomic.Int64
	elsewhere := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		posted.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, storedAnswer(t, r)) //nolint:errcheck // a test's answer
	})
	stored := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, storedAnswer(t, r)) //nolint:errcheck // a test's answer
	})
	secure := httptest.NewTLSServer(stored) // the same host, https
	t.Cleanup(secure.Close)
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/away"):
				http.Redirect(w, r, elsewhere.URL+strings.TrimPrefix(r.URL.Path, "/away"), code)
			case strings.HasPrefix(r.URL.Path, "/secure"):
				http.Redirect(w, r, secure.URL+r.URL.Path, code) // an upgrade keeps the path
			case strings.HasPrefix(r.URL.Path, "/moved"):
				stored(w, r)
			default:
				http.Redirect(w, r, "/moved"+r.URL.Path, code)
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := newClient(t, srv.URL, WithToken("t0k"))
		if _, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1}); err != nil {
			t.Errorf("a %d within the origin: %v; expected it followed, the append stored", code, err)
		}
		upgraded := newClient(t, srv.URL+"/secure", WithToken("t0k"), WithHTTPClient(secure.Client()))
		if _, err := upgraded.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1}); err != nil {
			t.Errorf("a %d to https on the same host: %v; expected it followed, as the token is", code, err)
		}
		away := newClient(t, srv.URL+"/away", WithToken("t0k"))
		_, err := away.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
		if err == nil || !strings.Contains(err.Error(), elsewhere.URL) {
			t.Errorf("a %d to another origin: %v; expected an error naming %s", code, err, elsewhere.URL)
		}
		if n := posted.Swap(0); n != 0 {
			t.Errorf("a %d to another origin: %d appends posted there; expected none", code, n)
		}
	}
}

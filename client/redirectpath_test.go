package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestTheTokenDoesNotFollowARedirectOutOfTheBasePath: a read's next link
// that leads out of the base URL's path is refused, as two services on
// one origin (/a/, /b/) each keep their token; but a redirect there, on
// the same origin, was followed with the token, and an append's 307 or
// 308 there sent the events to the other service: the redirect check
// compared origins only. A redirect out of the base path is now followed
// without the token, as one to another origin is, and an append's 307 or
// 308 there is an error naming where it points, nothing sent there; a
// redirect that stays under the base path keeps the token, and the body.
func TestTheTokenDoesNotFollowARedirectOutOfTheBasePath(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth string
	var posted atomic.Int64
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusFound
		if r.Method == http.MethodPost {
			code = http.StatusTemporaryRedirect
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/a/"): // out, to another service
			http.Redirect(w, r, "/b/"+strings.TrimPrefix(r.URL.Path, "/a/"), code)
			return
		case strings.HasPrefix(r.URL.Path, "/c/moved/"), strings.HasPrefix(r.URL.Path, "/b/"):
		case strings.HasPrefix(r.URL.Path, "/c/"): // within its base path
			http.Redirect(w, r, "/c/moved/"+strings.TrimPrefix(r.URL.Path, "/c/"), code)
			return
		}
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			posted.Add(1)
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, storedAnswer(t, r)) //nolint:errcheck // a test's answer
			return
		}
		io.WriteString(w, `{"stream_id":"`+path.Base(r.URL.Path)+`","stream_type":"order","version":1}`) //nolint:errcheck // a test's answer
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		base, wantAuth string
		wantPosted     int64
	}{
		{"/a/", "", 0},           // out of the base path: no token, no body
		{"/c/", "Bearer t0k", 1}, // under it: both
	} {
		mu.Lock()
		auth = "none"
		mu.Unlock()
		c := newClient(t, srv.URL+tc.base, WithToken("t0k"))
		if _, err := c.Stream(ctx, uuid.New()); err != nil {
			t.Fatalf("base %s: %v", tc.base, err)
		}
		mu.Lock()
		if auth != tc.wantAuth {
			t.Errorf("base %s: the redirect's target got Authorization %q; expected %q", tc.base, auth, tc.wantAuth)
		}
		mu.Unlock()
		_, err := c.Append(ctx, StreamRef{ID: uuid.New(), Type: "order"}, Any, NewEvent{ID: uuid.New(), Type: "A", Data: 1})
		if n := posted.Swap(0); n != tc.wantPosted || (n == 0) != (err != nil) {
			t.Errorf("base %s: an append's 307: %v, %d posted at its target; expected %d posted (an error naming the target if none)", tc.base, err, n, tc.wantPosted)
		}
		if tc.wantPosted == 0 && (err == nil || !strings.Contains(err.Error(), "/b/streams/")) {
			t.Errorf("base %s: an append's 307 out of the base path: %v; expected an error naming /b/streams/…", tc.base, err)
		}
	}
}

// TestTheTokenDoesNotFollowAnHTTPSUpgradeOutOfTheBasePath: the upgrade of
// the server's origin to https gets the token, as a proxy that upgrades
// keeps the path; but an upgrade that also left the base URL's path
// (http://host/a/… to https://host/b/…, another service) got it too,
// while a next link there is refused. It now goes only to an upgrade
// under the base path; the redirect elsewhere is followed without it.
func TestTheTokenDoesNotFollowAnHTTPSUpgradeOutOfTheBasePath(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth string
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"stream_id":"`+path.Base(r.URL.Path)+`","stream_type":"order","version":1}`) //nolint:errcheck // a test's answer
	}))
	t.Cleanup(secure.Close)
	srv := testServer(t, func(w http.ResponseWriter, r *http.Request) {
		first, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		to := map[string]string{"a": "/b/", "c": "/c/moved/"}[first]
		http.Redirect(w, r, secure.URL+to+rest, http.StatusFound)
	})
	for _, tc := range []struct{ base, want string }{
		{"/a/", ""},           // upgraded and out of the base path
		{"/c/", "Bearer t0k"}, // upgraded under it
	} {
		mu.Lock()
		auth = "none"
		mu.Unlock()
		c := newClient(t, srv.URL+tc.base, WithToken("t0k"), WithHTTPClient(secure.Client()))
		if _, err := c.Stream(context.Background(), uuid.New()); err != nil {
			t.Fatalf("base %s: %v", tc.base, err)
		}
		mu.Lock()
		if auth != tc.want {
			t.Errorf("base %s, redirected to https: the target got Authorization %q; expected %q", tc.base, auth, tc.want)
		}
		mu.Unlock()
	}
}
